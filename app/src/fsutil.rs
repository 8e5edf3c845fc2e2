//! Small file-system helpers shared by the store and the preferences.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path`, readable and writable by the owner only
/// (a file made anew; an existing one is replaced atomically).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // A temporary file is made 0600 and keeps that mode when renamed.
    write_atomically(path, bytes)
}

/// Writes `bytes` to a new file at `path`, complete or not at all; fails
/// if `path` exists (nothing is replaced).
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (dir, tmp) = staged(path, bytes)?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

/// `bytes` in a synced temporary file (0600) beside `path`, and its folder.
fn staged<'a>(
    path: &'a Path,
    bytes: &[u8],
) -> std::io::Result<(&'a Path, tempfile::NamedTempFile)> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok((dir, tmp))
}

/// Overwrites a file with zeros, then removes it: its content is not left
/// in the file system's free blocks (on a disk that writes in place; SSDs
/// and copy-on-write file systems may keep old blocks regardless).
pub fn shred(path: &Path) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    let len = file.metadata()?.len();
    let zeros = vec![0u8; 64 << 10];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    drop(file);
    std::fs::remove_file(path)
}

/// Writes `bytes` to `path` so that a crash leaves the old or the new file,
/// never a torn one: temporary file, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (dir, tmp) = staged(path, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}
