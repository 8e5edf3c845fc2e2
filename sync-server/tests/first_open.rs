//! SQLite marks itself initialised before SQLCipher's own set-up has run
//! (`sqlite3_initialize` runs `SQLITE_EXTRA_INIT` last, outside its lock):
//! a thread that opened its first connection at that moment found
//! SQLCipher "not initialized" and could not apply its key (seen once in
//! CI, four test servers starting at once; `sprechtag_schemas::sqlite::
//! ready` is the cure). Each child process here opens encrypted databases
//! from several threads at once as its very first use of SQLite; every one
//! must open. Without the cure, one of 300 such processes failed in two
//! runs of three.

use std::process::Command;
use std::sync::Barrier;

use sprechtag_server::storage::{DatabaseKey, SqliteStorage};

/// Set in a child: the directory to open its databases in.
const CHILD: &str = "SPRECHTAG_FIRST_OPEN_CHILD";
const TEST: &str = "encrypted_databases_open_from_many_threads_as_the_first_use_of_sqlite";
const THREADS: usize = 16;
const PROCESSES: usize = 200;

#[test]
fn encrypted_databases_open_from_many_threads_as_the_first_use_of_sqlite() {
    if let Some(dir) = std::env::var_os(CHILD) {
        let dir = std::path::PathBuf::from(dir);
        let key = DatabaseKey::generate();
        let barrier = Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for i in 0..THREADS {
                let (dir, key, barrier) = (&dir, &key, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    SqliteStorage::open_with_key(&dir.join(i.to_string()), Some(key))
                        .unwrap_or_else(|e| panic!("thread {i}: {e}"));
                });
            }
        });
        return;
    }
    for process in 0..PROCESSES {
        let dir = tempfile::tempdir().expect("dir");
        let output = Command::new(std::env::current_exe().expect("this test binary"))
            .args(["--exact", TEST, "--test-threads", "1"])
            .env(CHILD, dir.path())
            .output()
            .expect("run a child");
        assert!(
            output.status.success(),
            "process {process}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
