//! Where Sprechtag keeps its data when no `--data-dir` is given.

use std::path::PathBuf;

/// The platform's data directory for Sprechtag (on Linux
/// `~/.local/share/sprechtag`), or `./sprechtag-data` if there is none.
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("de", "Sprechtag", "sprechtag")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("sprechtag-data"))
}
