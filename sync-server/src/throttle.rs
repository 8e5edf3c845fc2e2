//! Slows down guessing: after a few wrong enrolment codes or unknown tokens
//! from one address, that address is answered 429 with `Retry-After` until
//! its quota refills. Only failures count — a county's laptops behind one
//! NAT address sync as often as they like — and the table of addresses is
//! bounded, so a flood of addresses cannot make it grow without end.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Failures one address may have in a burst, and how fast they are forgiven.
const BURST: u32 = 10;
const FORGIVEN_PER_MINUTE: u32 = 6;
/// Addresses remembered at most; beyond it the expired ones are dropped.
const MAX_ADDRESSES: usize = 10_000;

pub struct Throttle {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses that ran out of failures, until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Throttle")
    }
}

impl Default for Throttle {
    fn default() -> Self {
        let per_minute = NonZeroU32::new(FORGIVEN_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(BURST).unwrap_or(NonZeroU32::MIN);
        Throttle {
            failures: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            blocked: Mutex::new(HashMap::new()),
        }
    }
}

impl Throttle {
    /// How long `address` must wait before it may try again; `None`: now.
    pub fn wait(&self, address: Option<IpAddr>) -> Option<Duration> {
        let address = address?;
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let until = blocked.get(&address)?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts a failed attempt of `address`; past its quota it must wait.
    pub fn failed(&self, address: Option<IpAddr>) {
        let Some(address) = address else { return };
        if let Err(not_until) = self.failures.check_key(&address) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
            if blocked.len() >= MAX_ADDRESSES {
                let now = Instant::now();
                blocked.retain(|_, until| *until > now);
                self.failures.retain_recent();
            }
            if blocked.len() < MAX_ADDRESSES {
                blocked.insert(address, Instant::now() + wait);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_waits_after_its_burst_of_failures_and_others_do_not() {
        let throttle = Throttle::default();
        let guesser: Option<IpAddr> = "192.0.2.7".parse().ok();
        let colleague: Option<IpAddr> = "192.0.2.8".parse().ok();
        for _ in 0..BURST {
            assert_eq!(throttle.wait(guesser), None);
            throttle.failed(guesser);
        }
        throttle.failed(guesser);
        let wait = throttle.wait(guesser).expect("blocked");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert_eq!(throttle.wait(colleague), None);
        assert_eq!(
            throttle.wait(None),
            None,
            "an unknown address is not blocked"
        );
    }
}
