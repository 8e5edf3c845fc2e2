//! Background sync: a thread with its own store connection that syncs
//! whenever the server answers. Connectivity is never guessed from network
//! interfaces: the worker simply tries, and backs off exponentially (with
//! jitter) while the server cannot be reached. Status goes to the UI
//! through a channel.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use rand::Rng;

use super::{Connection, RefusedDocument, SyncError, enrol_with};
use crate::background::Background;
use crate::store::Store;

/// How often an idle, up-to-date device asks the server for news.
const POLL: Duration = Duration::from_secs(60);
/// How soon after a local change it is sent.
const AFTER_EDIT: Duration = Duration::from_secs(5);
const FIRST_RETRY: Duration = Duration::from_secs(2);
const MAX_RETRY: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    NotEnrolled,
    Offline,
    Syncing,
    UpToDate,
    /// A person has to act (revoked, rejected changes, bad settings).
    Failed,
    /// Revoked, and the data deleted on the server's order: the worker
    /// has stopped; the app shows only that.
    Wiped,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncStatus {
    pub state: SyncState,
    /// Documents with changes the server has not acknowledged.
    pub pending: usize,
    /// Documents from the server this device could not read, kept aside.
    pub set_aside: usize,
    pub last_success: Option<String>,
    pub last_error: Option<SyncProblem>,
    pub server: Option<String>,
    /// The role the device is enrolled with (caseworker, backoffice, admin).
    pub role: Option<sprechtag_schemas::Role>,
    /// The prefix of new case numbers. Enrolment replaces it with the
    /// server's, and the UI learns it here.
    pub prefix: String,
    /// How the last enrolment attempt ended.
    pub enrolment: Option<EnrolOutcome>,
    /// How far the laptop's clock is behind the server's, in milliseconds
    /// (negative: ahead), as of the last sync.
    pub clock_offset_ms: i64,
}

/// The answer to one [`Command::Enrol`]. A failed attempt leaves the sync
/// state alone: an enrolled device keeps syncing with its server.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrolOutcome {
    /// The attempt as numbered by the sender.
    pub attempt: u64,
    pub problem: Option<SyncProblem>,
}

/// Why the last attempt failed, for a message in plain words.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncProblem {
    Offline,
    Server,
    Unauthorized,
    Revoked,
    BadCode,
    /// The server's answer was not understood: at enrolment, most likely
    /// an address where no Sprechtag server listens.
    Protocol(String),
    /// Too many failed attempts from this address: wait this many seconds.
    Throttled(u64),
    /// Plain http to another machine, not allowed for this server.
    Insecure,
    /// The server's certificate is not one this device trusts.
    Untrusted,
    Rejected(Vec<RefusedDocument>),
    Other(String),
}

impl From<&SyncError> for SyncProblem {
    fn from(error: &SyncError) -> Self {
        match error {
            SyncError::Offline(_) => SyncProblem::Offline,
            SyncError::Server(_) => SyncProblem::Server,
            SyncError::Unauthorized => SyncProblem::Unauthorized,
            SyncError::Revoked => SyncProblem::Revoked,
            SyncError::BadCode => SyncProblem::BadCode,
            SyncError::Throttled(wait) => SyncProblem::Throttled(wait.as_secs()),
            SyncError::Insecure(_) => SyncProblem::Insecure,
            SyncError::Untrusted(_) => SyncProblem::Untrusted,
            SyncError::Protocol(detail) => SyncProblem::Protocol(detail.clone()),
            other => SyncProblem::Other(other.to_string()),
        }
    }
}

#[derive(Debug)]
pub enum Command {
    SyncNow,
    /// `attempt` comes back in [`SyncStatus::enrolment`].
    Enrol {
        server_url: String,
        code: String,
        /// The user confirmed plain http to this server.
        allow_insecure_http: bool,
        /// The county's CA (PEM), the only one to trust for this server.
        ca_cert: Option<String>,
        attempt: u64,
    },
}

/// The sync thread, as the UI holds it.
#[derive(Debug)]
pub struct SyncWorker(Background<Command, SyncStatus>);

impl SyncWorker {
    pub fn spawn(store: Store, wake: impl Fn() + Send + 'static) -> SyncWorker {
        SyncWorker(Background::spawn("sync", move |commands, status| {
            run(store, &commands, &status, &wake);
        }))
    }

    pub fn send(&self, command: Command) {
        self.0.send(command);
    }

    /// The statuses that arrived since the last call, oldest first.
    pub fn received(&self) -> Vec<SyncStatus> {
        self.0.received()
    }
}

struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let base = FIRST_RETRY.saturating_mul(2u32.saturating_pow(self.failures.min(10)));
        self.failures += 1;
        let capped = base.min(MAX_RETRY);
        // ±50 % so that fifty laptops back online at once do not all call together.
        capped.mul_f64(rand::rng().random_range(0.5..1.5))
    }
}

fn run(
    mut store: Store,
    commands: &Receiver<Command>,
    status: &Sender<SyncStatus>,
    wake: &dyn Fn(),
) {
    let mut backoff = Backoff { failures: 0 };
    let mut connection = Connection::default();
    let mut last_sent: Option<SyncStatus> = None;
    let mut state = SyncState::NotEnrolled;
    let mut last_error = None;
    let mut enrolment: Option<EnrolOutcome> = None;
    let mut due = Some(Instant::now());
    loop {
        let enrolled = matches!(store.enrolment(), Ok(Some(_)));
        if !enrolled {
            // Nothing to do until an enrolment command arrives; a due time
            // left in the past would spin this loop (and the UI with it).
            state = SyncState::NotEnrolled;
            due = None;
        }
        let pending = store.pending_count().unwrap_or(0);
        if enrolled && state == SyncState::UpToDate && pending > 0 {
            due = Some(due.map_or(Instant::now() + AFTER_EDIT, |d| {
                d.min(Instant::now() + AFTER_EDIT)
            }));
        }
        let mut report = |state,
                          last_error: &Option<SyncProblem>,
                          enrolment: &Option<EnrolOutcome>,
                          store: &Store| {
            let enrolled_as = store.enrolment().ok().flatten();
            let now = SyncStatus {
                state,
                pending: store.pending_count().unwrap_or(0),
                set_aside: store.set_aside_count().unwrap_or(0),
                last_success: store.last_sync_success().ok().flatten(),
                last_error: last_error.clone(),
                server: enrolled_as.as_ref().map(|e| e.server_url.clone()),
                role: enrolled_as.as_ref().map(|e| e.role),
                prefix: store.device().prefix.clone(),
                enrolment: enrolment.clone(),
                clock_offset_ms: store.clock_offset_ms().unwrap_or(0),
            };
            // Only news wakes the UI: an idle app must not repaint.
            if last_sent.as_ref() != Some(&now) {
                let _ = status.send(now.clone());
                last_sent = Some(now);
                wake();
            }
        };
        report(state, &last_error, &enrolment, &store);
        let wait = due.map_or(Duration::from_secs(5), |d| {
            d.saturating_duration_since(Instant::now())
        });
        let command = match commands.recv_timeout(wait.min(Duration::from_secs(5))) {
            Ok(command) => Some(command),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let run_now = match command {
            Some(Command::SyncNow) => true,
            Some(Command::Enrol {
                server_url,
                code,
                allow_insecure_http,
                ca_cert,
                attempt,
            }) => {
                let settings = crate::sync::HttpSettings {
                    allow_insecure_http,
                    ca_cert,
                };
                let result = enrol_with(&mut store, &server_url, &code, &settings);
                let problem = result.as_ref().err().map(SyncProblem::from);
                enrolment = Some(EnrolOutcome { attempt, problem });
                if result.is_ok() {
                    last_error = None;
                    backoff = Backoff { failures: 0 };
                }
                result.is_ok()
            }
            None => due.is_some_and(|d| Instant::now() >= d),
        };
        if !run_now || !matches!(store.enrolment(), Ok(Some(_))) {
            continue;
        }
        report(SyncState::Syncing, &last_error, &enrolment, &store);
        match connection.sync(&mut store) {
            Err(SyncError::Wiped) => {
                let _ = status.send(SyncStatus {
                    state: SyncState::Wiped,
                    pending: 0,
                    set_aside: 0,
                    last_success: None,
                    last_error: None,
                    server: None,
                    role: None,
                    prefix: String::new(),
                    enrolment: None,
                    clock_offset_ms: 0,
                });
                wake();
                return;
            }
            Ok(result) if result.complete() => {
                state = SyncState::UpToDate;
                last_error = None;
                backoff = Backoff { failures: 0 };
                due = Some(Instant::now() + POLL);
            }
            Ok(result) => {
                state = SyncState::Failed;
                last_error = Some(SyncProblem::Rejected(result.rejected));
                due = Some(Instant::now() + backoff.next());
            }
            Err(e) if e.is_permanent() => {
                state = SyncState::Failed;
                last_error = Some(SyncProblem::from(&e));
                due = None;
            }
            Err(e) => {
                state = SyncState::Offline;
                last_error = Some(SyncProblem::from(&e));
                due = Some(Instant::now() + backoff.next());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let mut backoff = Backoff { failures: 0 };
        let first = backoff.next();
        assert!(
            first >= FIRST_RETRY / 2 && first <= FIRST_RETRY * 3 / 2,
            "{first:?}"
        );
        let mut last = first;
        for _ in 0..20 {
            last = backoff.next();
        }
        assert!(
            last <= MAX_RETRY * 3 / 2 && last >= MAX_RETRY / 2,
            "{last:?}"
        );
    }
}
