//! What both SQLite stores (the laptop's and the server's) need before
//! their first connection.

/// Sets SQLite and SQLCipher up once per process, before any connection.
/// `sqlite3_initialize` marks SQLite initialised before it runs SQLCipher's
/// own set-up (`SQLITE_EXTRA_INIT`, last and outside its lock): a second
/// thread opening its first connection in that moment finds SQLCipher "not
/// initialized" and cannot apply its key ("An error occurred with PRAGMA
/// key…"). Every thread of ours waits here until the first has opened a
/// connection, and with it finished both set-ups
/// (sync-server/tests/first_open.rs).
pub fn ready() {
    static READY: std::sync::Once = std::sync::Once::new();
    READY.call_once(|| {
        // Only the set-up matters; an error here shows again, with its
        // file, when the real database is opened.
        let _ = rusqlite::Connection::open_in_memory();
    });
}
