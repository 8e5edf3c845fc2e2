//! The sync core: the policy of one exchange, free of I/O (the samod way).
//!
//! Events go in — an answer was committed, a round trip failed, a wait is
//! over, the store started over — and the next step comes out: send a round
//! with this budget, wait that long, start over, stop. How big a round may
//! be, when a dropped connection is retried, when the exchange is done and
//! when summaries pay live here, unit-tested without sockets or threads.
//! [`drive`] runs the core with a [`Session`] (what is exchanged: with the
//! server, or with a laptop in the hall) over a [`Transport`] (HTTP, a hall
//! connection, or an in-process pipe in tests).

use std::time::Duration;

use sprechtag_schemas::wire::{BATCH_BYTES, FIRST_BATCH_BYTES};

use super::SyncError;

/// A dropped connection is retried at once this many times, from a small
/// batch, before the exchange gives up and leaves retrying to the caller.
pub const QUICK_RETRIES: u32 = 5;

/// Case summaries cost some 60 compressed bytes each on the wire and save
/// about 0.3 ms of loading the case: below this download rate (2 Mbit/s)
/// they cost more time than they save, so the device stops asking.
const SUMMARIES_MIN_BYTES_PER_SECOND: f64 = 250_000.0;
/// Bodies smaller than this arrive with the headers' first packets and say
/// nothing about the link's speed.
const MEASURABLE_BODY_BYTES: usize = 4 << 10;

/// What the next round may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Change bytes for the request, and asked for in the answer.
    pub budget: usize,
    /// Ask for case summaries with whole documents.
    pub summaries: bool,
}

/// What to do next.
#[derive(Debug)]
pub enum Step {
    /// Build a round from the store and send it.
    Send(Round),
    /// Wait this long, then report [`Core::waited`].
    Wait(Duration),
    /// The other side lost history (restored from a backup): offer
    /// everything again, then report [`Core::started_over`].
    StartOver,
    /// Both sides have everything that could be exchanged.
    Done,
    /// The exchange stops with this error.
    Fail(SyncError),
}

/// What one committed answer brought, as the session read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Something was taken by either side, or the position moved on.
    pub progressed: bool,
    /// The other side has more to send.
    pub more: bool,
    /// This side still has something to send.
    pub uploads_left: bool,
    /// The other side asks this one to start over; nothing was committed.
    pub start_over: bool,
    /// Bytes of the answer's body, and how long it took to arrive after
    /// its first bytes: the link's speed.
    pub body_bytes: usize,
    pub transfer: Duration,
}

/// The state of one exchange.
#[derive(Debug)]
pub struct Core {
    budget: usize,
    summaries: bool,
    retries: u32,
    started_over: bool,
    /// A wait is pending (a retry): its end sends again.
    waiting: bool,
}

impl Default for Core {
    fn default() -> Self {
        Core::new()
    }
}

impl Core {
    pub fn new() -> Core {
        Core {
            budget: FIRST_BATCH_BYTES,
            // Until an answer says otherwise; the first is small anyway.
            summaries: true,
            retries: 0,
            started_over: false,
            waiting: false,
        }
    }

    /// The first step of an exchange.
    pub fn start(&self) -> Step {
        Step::Send(self.round())
    }

    /// Dropped connections retried in this exchange.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Whether this exchange started over.
    pub fn has_started_over(&self) -> bool {
        self.started_over
    }

    fn round(&self) -> Round {
        Round {
            budget: self.budget,
            summaries: self.summaries,
        }
    }

    /// A round trip failed before its answer was committed. What was
    /// committed before stays; a retryable failure is tried again a few
    /// times from a small batch, a permanent one stops the exchange.
    pub fn failed(&mut self, error: SyncError) -> Step {
        if error.is_permanent() || self.retries >= QUICK_RETRIES {
            return Step::Fail(error);
        }
        self.retries += 1;
        self.budget = FIRST_BATCH_BYTES;
        self.waiting = true;
        Step::Wait(Duration::from_millis(200 * u64::from(self.retries)))
    }

    /// A wait asked for by [`Core::failed`] is over.
    pub fn waited(&mut self) -> Step {
        if !std::mem::take(&mut self.waiting) {
            return Step::Fail(SyncError::Protocol("a wait nobody asked for".into()));
        }
        Step::Send(self.round())
    }

    /// The answer of a round is committed (or asks to start over).
    pub fn answered(&mut self, outcome: &Outcome) -> Step {
        self.summaries = summaries_pay(self.summaries, outcome.body_bytes, outcome.transfer);
        if outcome.start_over {
            if self.started_over {
                return Step::Fail(SyncError::Protocol(
                    "the other side asked twice in one run to start over".into(),
                ));
            }
            self.started_over = true;
            return Step::StartOver;
        }
        self.budget = (self.budget * 2).min(BATCH_BYTES);
        // A round that moved nothing would be repeated forever.
        if !(outcome.more || outcome.uploads_left) || !outcome.progressed {
            return Step::Done;
        }
        Step::Send(self.round())
    }

    /// The session offered everything again ([`Step::StartOver`]).
    pub fn restarted(&mut self) -> Step {
        Step::Send(self.round())
    }
}

/// Whether summaries pay on a link that brought `body_bytes` in `transfer`
/// (after the headers); `previous` when the body is too small to tell.
fn summaries_pay(previous: bool, body_bytes: usize, transfer: Duration) -> bool {
    if body_bytes < MEASURABLE_BODY_BYTES {
        return previous;
    }
    body_bytes as f64 >= SUMMARIES_MIN_BYTES_PER_SECOND * transfer.as_secs_f64()
}

/// An answer's body, and how long it took to arrive after its first bytes.
#[derive(Debug)]
pub struct Answer {
    pub body: Vec<u8>,
    pub transfer: Duration,
}

/// Moves one round's bytes to the other side and its answer back.
pub trait Transport {
    fn round_trip(&mut self, body: Vec<u8>) -> Result<Answer, SyncError>;
}

/// What is exchanged: builds each round's request from the store and
/// commits each answer to it.
pub trait Session {
    fn request(&mut self, round: Round) -> Result<Vec<u8>, SyncError>;
    /// Commits the answer (or, asked to start over, commits nothing).
    fn apply(&mut self, answer: Answer) -> Result<Outcome, SyncError>;
    /// Marks everything to be offered again.
    fn start_over(&mut self) -> Result<(), SyncError>;
}

/// Runs one exchange: the core's steps, carried out by the session, the
/// transport and `sleep`. Returns the core for its counters.
pub fn drive(
    session: &mut dyn Session,
    transport: &mut dyn Transport,
    sleep: &mut dyn FnMut(Duration),
) -> Result<Core, SyncError> {
    let mut core = Core::new();
    let mut step = core.start();
    loop {
        step = match step {
            Step::Send(round) => {
                let body = session.request(round)?;
                match transport.round_trip(body) {
                    Ok(answer) => {
                        let outcome = session.apply(answer)?;
                        core.answered(&outcome)
                    }
                    Err(error) => core.failed(error),
                }
            }
            Step::Wait(duration) => {
                sleep(duration);
                core.waited()
            }
            Step::StartOver => {
                session.start_over()?;
                core.restarted()
            }
            Step::Done => return Ok(core),
            Step::Fail(error) => return Err(error),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline() -> SyncError {
        SyncError::Offline("connection reset".into())
    }

    fn round(step: &Step) -> Round {
        match step {
            Step::Send(round) => *round,
            other => panic!("expected a round, got {other:?}"),
        }
    }

    fn more() -> Outcome {
        Outcome {
            progressed: true,
            more: true,
            ..Outcome::default()
        }
    }

    #[test]
    fn a_lost_answer_is_retried_after_a_growing_wait_from_a_small_batch() {
        let mut core = Core::new();
        // Two answers grew the budget.
        core.answered(&more());
        let grown = round(&core.answered(&more()));
        assert_eq!(grown.budget, FIRST_BATCH_BYTES * 4);
        let mut waits = Vec::new();
        for _ in 0..QUICK_RETRIES {
            match core.failed(offline()) {
                Step::Wait(wait) => waits.push(wait),
                other => panic!("expected a wait, got {other:?}"),
            }
            assert_eq!(round(&core.waited()).budget, FIRST_BATCH_BYTES);
        }
        assert!(waits.windows(2).all(|w| w[0] < w[1]), "{waits:?}");
        // The sixth drop in one exchange gives up: the caller's backoff
        // takes over.
        assert!(matches!(
            core.failed(offline()),
            Step::Fail(SyncError::Offline(_))
        ));
        assert_eq!(core.retries(), QUICK_RETRIES);
    }

    #[test]
    fn a_refusal_stops_the_exchange_without_a_retry() {
        for error in [
            SyncError::Unauthorized,
            SyncError::Revoked,
            SyncError::Forbidden("another department".into()),
            SyncError::Protocol("garbage".into()),
        ] {
            let mut core = Core::new();
            assert!(matches!(core.failed(error), Step::Fail(_)));
            assert_eq!(core.retries(), 0);
        }
    }

    #[test]
    fn an_oversized_backlog_travels_in_rounds_growing_to_the_batch_limit() {
        let mut core = Core::new();
        let mut budgets = vec![round(&core.start()).budget];
        for _ in 0..10 {
            budgets.push(round(&core.answered(&more())).budget);
        }
        assert_eq!(budgets[..4], [8 << 10, 16 << 10, 32 << 10, 64 << 10]);
        assert!(
            budgets[3..].iter().all(|&b| b == BATCH_BYTES),
            "{budgets:?}"
        );
        // Uploads left on this side keep it going as well.
        let uploads = Outcome {
            progressed: true,
            uploads_left: true,
            ..Outcome::default()
        };
        assert!(matches!(core.answered(&uploads), Step::Send(_)));
        let last = Outcome {
            progressed: true,
            ..Outcome::default()
        };
        assert!(matches!(core.answered(&last), Step::Done));
    }

    #[test]
    fn a_round_that_moves_nothing_ends_the_exchange_instead_of_repeating() {
        let mut core = Core::new();
        let stuck = Outcome {
            progressed: false,
            more: true,
            uploads_left: true,
            ..Outcome::default()
        };
        assert!(matches!(core.answered(&stuck), Step::Done));
    }

    #[test]
    fn starting_over_happens_once_per_exchange() {
        let mut core = Core::new();
        let again = Outcome {
            start_over: true,
            ..Outcome::default()
        };
        assert!(matches!(core.answered(&again), Step::StartOver));
        assert!(core.has_started_over());
        assert!(matches!(core.restarted(), Step::Send(_)));
        assert!(matches!(
            core.answered(&again),
            Step::Fail(SyncError::Protocol(_))
        ));
    }

    #[test]
    fn a_wait_nobody_asked_for_is_a_fault_not_a_send() {
        let mut core = Core::new();
        assert!(matches!(core.waited(), Step::Fail(_)));
    }

    #[test]
    fn summaries_are_asked_for_while_the_link_brings_two_megabits_a_second() {
        let ms = Duration::from_millis;
        // 64 KB in 10 ms (LAN) and in 2 s (256 kbit/s).
        assert!(summaries_pay(false, 64_000, ms(10)));
        assert!(!summaries_pay(true, 64_000, ms(2_000)));
        // Just either side of 250,000 bytes a second.
        assert!(summaries_pay(false, 25_000, ms(99)));
        assert!(!summaries_pay(true, 25_000, ms(101)));
        // A body of one or two packets tells nothing: the verdict stays.
        assert!(summaries_pay(true, 1_000, ms(500)));
        assert!(!summaries_pay(false, 1_000, ms(0)));
        // The core carries the verdict into the next round.
        let mut core = Core::new();
        let slow = Outcome {
            progressed: true,
            more: true,
            body_bytes: 64_000,
            transfer: ms(2_000),
            ..Outcome::default()
        };
        assert!(!round(&core.answered(&slow)).summaries);
    }

    /// A transport that loses every other answer after the session
    /// built its request, and a session that counts what it committed.
    struct Flaky {
        calls: usize,
    }

    impl Transport for Flaky {
        fn round_trip(&mut self, body: Vec<u8>) -> Result<Answer, SyncError> {
            self.calls += 1;
            if self.calls % 2 == 1 {
                return Err(offline());
            }
            Ok(Answer {
                body,
                transfer: Duration::ZERO,
            })
        }
    }

    struct Backlog {
        left: usize,
        committed: usize,
    }

    impl Session for Backlog {
        fn request(&mut self, round: Round) -> Result<Vec<u8>, SyncError> {
            Ok(vec![0; round.budget.min(self.left)])
        }
        fn apply(&mut self, answer: Answer) -> Result<Outcome, SyncError> {
            self.left -= answer.body.len();
            self.committed += 1;
            Ok(Outcome {
                progressed: !answer.body.is_empty(),
                uploads_left: self.left > 0,
                ..Outcome::default()
            })
        }
        fn start_over(&mut self) -> Result<(), SyncError> {
            Err(SyncError::Protocol("not expected".into()))
        }
    }

    #[test]
    fn drive_carries_a_backlog_through_a_link_that_drops_every_other_answer() {
        let mut session = Backlog {
            left: 40 << 10,
            committed: 0,
        };
        let mut transport = Flaky { calls: 0 };
        let mut slept = Duration::ZERO;
        let core = drive(&mut session, &mut transport, &mut |d| slept += d).expect("exchange");
        assert_eq!(session.left, 0);
        // Every drop restarts at 8 KiB: five rounds of 8 KiB, five drops.
        assert_eq!(session.committed, 5);
        assert_eq!(core.retries(), 5);
        assert_eq!(slept, Duration::from_millis(200 + 400 + 600 + 800 + 1000));
    }
}
