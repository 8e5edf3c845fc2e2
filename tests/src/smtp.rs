//! A real SMTP server for the mail tests: Python's `aiosmtpd` on loopback
//! (`tests/smtp/sink.py`), from the virtual environment `.ci/run` makes
//! (`$SPRECHTAG_VENV`, default `~/.cache/sprechtag/venv`).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

/// The sink; stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
    _stdin: ChildStdin,
}

/// The venv's Python (with aiosmtpd and prometheus_client).
pub fn python() -> PathBuf {
    let venv = std::env::var_os("SPRECHTAG_VENV").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/sprechtag/venv")
        },
        PathBuf::from,
    );
    let python = venv.join("bin/python3");
    assert!(
        python.exists(),
        "no Python venv with aiosmtpd at {}: run .ci/run, or \
         `python3 -m venv {0} && {0}/bin/pip install aiosmtpd prometheus-client`",
        venv.display()
    );
    python
}

impl SmtpSink {
    /// A sink that refuses the first `refuse` messages with a temporary
    /// error (451), then takes every one.
    pub fn start(refuse: u32) -> SmtpSink {
        let dir = tempfile::tempdir().expect("sink dir");
        let port = crate::free_port();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("smtp/sink.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg("--out")
            .arg(dir.path())
            .arg("--port")
            .arg(port.to_string())
            .arg("--refuse")
            .arg(refuse.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SMTP sink");
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the sink's port");
        assert_eq!(line.trim(), port.to_string(), "the sink did not start");
        SmtpSink {
            port,
            dir,
            child,
            _stdin: stdin,
        }
    }

    /// The messages received so far, in order, decoded by Python's
    /// `email` package.
    pub fn messages(&self) -> Vec<Mail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("sink dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                serde_json::from_str(&std::fs::read_to_string(p).expect("message"))
                    .expect("the sink's JSON")
            })
            .collect()
    }

    /// Waits until `n` messages arrived (or fails after 30 s).
    pub fn wait_for(&self, n: usize) -> Vec<Mail> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {n} messages arrived: {messages:#?}",
                messages.len()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message as the sink received it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mail {
    pub rcpt_to: Vec<String>,
    pub from: String,
    pub to: String,
    pub reply_to: String,
    pub subject: String,
    pub body: String,
}
