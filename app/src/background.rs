//! A background thread the UI talks to: it takes commands, sends back what
//! it has to show, and ends when its handle is dropped. The sync worker and
//! the hall worker are two of these, each with its own store connection.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long dropping a handle waits for its thread to end. It is not
/// joined for longer: a sync on a slow link may take minutes, and every
/// round is committed atomically, so the process may end in any of them.
/// Waiting a moment lets an idle thread leave the database before the
/// process ends (ending under a thread inside SQLCipher has crashed the
/// process on exit).
const END_WAIT: Duration = Duration::from_secs(1);

pub struct Background<C, S> {
    /// `None` once dropped: the thread ends at its next wait.
    commands: Option<Sender<C>>,
    status: Receiver<S>,
    /// Closed when the thread ends.
    ended: Receiver<()>,
    _thread: Option<JoinHandle<()>>,
}

impl<C, S> std::fmt::Debug for Background<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Background")
    }
}

impl<C, S> Drop for Background<C, S> {
    fn drop(&mut self) {
        self.commands.take();
        let _ = self.ended.recv_timeout(END_WAIT);
    }
}

impl<C: Send + 'static, S: Send + 'static> Background<C, S> {
    /// Runs `body` on a thread named `name` with the commands to take and
    /// where to send statuses; it should return once the commands'
    /// channel is closed (the handle dropped).
    pub fn spawn(
        name: &str,
        body: impl FnOnce(Receiver<C>, Sender<S>) + Send + 'static,
    ) -> Background<C, S> {
        let (command_tx, command_rx) = channel();
        let (status_tx, status_rx) = channel();
        let (ended_tx, ended_rx) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                body(command_rx, status_tx);
                // What the body owned (its store) is dropped by now.
                drop(ended_tx);
            })
            .ok();
        Background {
            commands: Some(command_tx),
            status: status_rx,
            ended: ended_rx,
            _thread: thread,
        }
    }

    pub fn send(&self, command: C) {
        // The thread only ends when this sender is dropped.
        if let Some(commands) = &self.commands {
            let _ = commands.send(command);
        }
    }

    /// The statuses that arrived since the last call, oldest first.
    pub fn received(&self) -> Vec<S> {
        self.status.try_iter().collect()
    }
}
