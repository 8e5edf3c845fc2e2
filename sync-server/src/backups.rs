//! Dated backups in a folder, the newest N kept: what the nightly
//! `sprechtag-server-backup.timer` of the Debian package runs
//! (`sprechtag-server backup --out-dir /var/backups/sprechtag --keep 14`).
//! Each is a consistent online copy (`SqliteStorage::backup`), encrypted
//! with the database's key.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::storage::{DatabaseKey, SqliteStorage};

const PREFIX: &str = "sprechtag-server-";
const SUFFIX: &str = ".backup";

/// A backup written, and the older ones removed to keep N.
#[derive(Debug)]
pub struct Made {
    pub path: PathBuf,
    pub bytes: u64,
    pub removed: Vec<PathBuf>,
}

/// Writes `DIR/sprechtag-server-YYYYMMDDTHHMMSSZ.backup`, then removes
/// all but the newest `keep` backups of this form there. The folder is made
/// (0700) if missing; files of other names in it are left alone. Nothing is
/// removed unless the new backup was written.
pub fn into_dir(
    storage: &SqliteStorage,
    key: Option<&DatabaseKey>,
    dir: &Path,
    keep: Option<u32>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Made> {
    make_private_dir(dir)?;
    let path = dir.join(format!("{PREFIX}{}{SUFFIX}", now.format("%Y%m%dT%H%M%SZ")));
    let bytes = storage
        .backup(&path, key)
        .with_context(|| format!("cannot write the backup {}", path.display()))?;
    let removed = match keep {
        Some(keep) => prune(dir, keep as usize)?,
        None => Vec::new(),
    };
    Ok(Made {
        path,
        bytes,
        removed,
    })
}

fn make_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Removes all but the newest `keep` dated backups in `dir` (their names
/// sort by time).
fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for old in backups.into_iter().take(excess) {
        std::fs::remove_file(&old).with_context(|| format!("cannot remove {}", old.display()))?;
        removed.push(old);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keeps_the_newest_and_leaves_other_files_alone() {
        let data = tempfile::tempdir().expect("data");
        let storage = SqliteStorage::open(data.path()).expect("open");
        let out = tempfile::tempdir().expect("out");
        let dir = out.path().join("backups");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("README"), "notes").expect("foreign file");
        let mut made = Vec::new();
        for day in 1..=4 {
            let now = chrono::Utc
                .with_ymd_and_hms(2026, 12, day, 2, 30, 0)
                .single()
                .expect("time");
            made.push(into_dir(&storage, None, &dir, Some(2), now).expect("backup"));
        }
        assert!(made[0].removed.is_empty() && made[1].removed.is_empty());
        assert_eq!(made[2].removed, vec![made[0].path.clone()]);
        assert_eq!(made[3].removed, vec![made[1].path.clone()]);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "README",
                "sprechtag-server-20261203T023000Z.backup",
                "sprechtag-server-20261204T023000Z.backup"
            ]
        );
        // A second backup in the same second is refused, and removes nothing.
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 12, 4, 2, 30, 0)
            .single()
            .expect("time");
        assert!(into_dir(&storage, None, &dir, Some(1), now).is_err());
        assert_eq!(std::fs::read_dir(&dir).expect("read").count(), 3);
    }
}
