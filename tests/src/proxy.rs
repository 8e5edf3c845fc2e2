//! A loopback TCP proxy that makes a link behave like a rural mobile one:
//! limited throughput, a delay each way, and connections cut at random. The
//! kernel here has no netem, so this does it in user space.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct LinkProfile {
    /// Bytes per second in each direction.
    pub bytes_per_second: u64,
    /// Added in each direction.
    pub delay: Duration,
    /// Chance that a connection is cut somewhere in its first `cut_within` bytes.
    pub cut_probability: f64,
    pub cut_within: u64,
    /// The first connection that carries its cut point is cut in any case,
    /// so that a test sees at least one cut.
    pub cut_first: bool,
    /// Seeds where and which connections are cut, so that a failing run can
    /// be repeated.
    pub seed: u64,
}

impl LinkProfile {
    /// 256 kbit/s, 150 ms each way (300 ms round trip), the first and a
    /// third of the other connections cut early.
    pub fn rural() -> LinkProfile {
        LinkProfile {
            bytes_per_second: 256_000 / 8,
            delay: Duration::from_millis(150),
            cut_probability: 0.33,
            cut_within: 16 * 1024,
            cut_first: true,
            seed: 1,
        }
    }

    /// The same speed and delay, never cut.
    pub fn slow() -> LinkProfile {
        LinkProfile {
            cut_probability: 0.0,
            cut_first: false,
            ..LinkProfile::rural()
        }
    }
}

/// Counters of what crossed the proxy.
#[derive(Debug)]
pub struct Traffic {
    first_cut_pending: AtomicBool,
    cuts_planned: Mutex<StdRng>,
    pub up: AtomicU64,
    pub down: AtomicU64,
    pub connections: AtomicU64,
    pub cuts: AtomicU64,
}

pub struct Proxy {
    pub url: String,
    pub traffic: Arc<Traffic>,
    _acceptor: crate::acceptor::Acceptor,
}

impl Proxy {
    /// Forwards a new loopback port to `upstream` (`host:port`).
    pub fn start(upstream: &str, profile: LinkProfile) -> Proxy {
        let traffic = Arc::new(Traffic {
            first_cut_pending: AtomicBool::new(profile.cut_first),
            cuts_planned: Mutex::new(StdRng::seed_from_u64(profile.seed)),
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
        });
        let upstream = upstream.trim_start_matches("http://").to_string();
        let relayed = traffic.clone();
        let acceptor = crate::acceptor::Acceptor::start(move |client| {
            let upstream = upstream.clone();
            let traffic = relayed.clone();
            async move {
                if let Ok(server) = TcpStream::connect(&upstream).await {
                    relay(client, server, profile, traffic).await;
                }
            }
        });
        Proxy {
            url: acceptor.url.clone(),
            traffic,
            _acceptor: acceptor,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.traffic.up.load(Ordering::Relaxed) + self.traffic.down.load(Ordering::Relaxed)
    }
}

/// Where a connection may be cut: after `at` bytes, if chosen (or if it is
/// the first to get that far while a first cut is pending).
#[derive(Debug, Clone, Copy)]
struct Cut {
    at: u64,
    chosen: bool,
}

async fn relay(client: TcpStream, server: TcpStream, profile: LinkProfile, traffic: Arc<Traffic>) {
    traffic.connections.fetch_add(1, Ordering::Relaxed);
    let cut = {
        let mut rng = traffic
            .cuts_planned
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Cut {
            at: rng.random_range(0..profile.cut_within),
            chosen: rng.random_bool(profile.cut_probability),
        }
    };
    let carried = Arc::new(AtomicU64::new(0));
    let severed = Arc::new(AtomicBool::new(false));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let link = Link {
        profile,
        planned: cut,
        carried,
        severed,
        traffic: traffic.clone(),
    };
    let up = pipe(client_read, server_write, link.clone(), true);
    let down = pipe(server_read, client_write, link, false);
    let (cut_up, cut_down) = tokio::join!(up, down);
    if cut_up || cut_down {
        traffic.cuts.fetch_add(1, Ordering::Relaxed);
    }
}

/// Copies one direction through a delay line and a rate limit; returns true
/// if the connection was cut here.
/// One connection's shared state: a cut severs both directions at once.
#[derive(Clone)]
struct Link {
    profile: LinkProfile,
    planned: Cut,
    carried: Arc<AtomicU64>,
    severed: Arc<AtomicBool>,
    traffic: Arc<Traffic>,
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: Link,
    upward: bool,
) -> bool {
    let Link {
        profile,
        planned,
        carried,
        severed,
        traffic,
    } = link;
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        loop {
            match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send((Instant::now(), buffer[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut cut = false;
    while let Some((read_at, bytes)) = rx.recv().await {
        tokio::time::sleep_until(read_at + profile.delay).await;
        if severed.load(Ordering::Relaxed) {
            break;
        }
        let total = carried.fetch_add(bytes.len() as u64, Ordering::Relaxed) + bytes.len() as u64;
        if total > planned.at
            && (planned.chosen || traffic.first_cut_pending.swap(false, Ordering::Relaxed))
        {
            severed.store(true, Ordering::Relaxed);
            cut = true;
            break;
        }
        let pause = Duration::from_secs_f64(bytes.len() as f64 / profile.bytes_per_second as f64);
        tokio::time::sleep(pause).await;
        if to.write_all(&bytes).await.is_err() {
            break;
        }
        let counter = if upward { &traffic.up } else { &traffic.down };
        counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }
    reader.abort();
    let _ = to.shutdown().await;
    cut
}
