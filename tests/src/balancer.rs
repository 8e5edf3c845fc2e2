//! A load balancer for tests: a loopback TCP port that hands each new
//! connection to a random one of several server instances, without
//! stickiness, and to another if the chosen one does not answer (an
//! instance killed, as a balancer's health check would notice).
//!
//! It also watches the requests it relays: how many wait for their first
//! response byte at each instance right now (`awaiting`), and how many an
//! instance's connection ended under without answering (`cut`) — so that a
//! test can kill an instance in the middle of a request and show it did.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::seq::SliceRandom;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the balancer saw of one upstream.
#[derive(Default)]
pub struct Upstream {
    /// Connections handed to it.
    pub handed: AtomicU64,
    /// Connections with request bytes sent and no response byte yet.
    pub awaiting: AtomicU64,
    /// Connections it closed (or died under) while a request awaited its
    /// answer.
    pub cut: AtomicU64,
}

pub struct Balancer {
    pub url: String,
    /// Each upstream, in the order given.
    pub upstreams: Arc<Vec<Upstream>>,
    _acceptor: crate::acceptor::Acceptor,
}

impl Balancer {
    /// Balances a new loopback port over `upstreams` (`host:port`).
    pub fn start(upstreams: &[String]) -> Balancer {
        let addresses: Arc<Vec<String>> = Arc::new(
            upstreams
                .iter()
                .map(|u| u.trim_start_matches("http://").to_string())
                .collect(),
        );
        let seen: Arc<Vec<Upstream>> =
            Arc::new((0..addresses.len()).map(|_| Upstream::default()).collect());
        let watched = seen.clone();
        let acceptor = crate::acceptor::Acceptor::start(move |client| {
            let (addresses, seen) = (addresses.clone(), watched.clone());
            async move {
                let mut order: Vec<usize> = (0..addresses.len()).collect();
                order.shuffle(&mut rand::rng());
                for index in order {
                    if let Ok(server) = TcpStream::connect(&addresses[index]).await {
                        seen[index].handed.fetch_add(1, Ordering::Relaxed);
                        relay(client, server, &seen[index]).await;
                        return;
                    }
                }
            }
        });
        Balancer {
            url: acceptor.url.clone(),
            upstreams: seen,
            _acceptor: acceptor,
        }
    }

    /// Connections handed to each upstream.
    pub fn handed(&self) -> Vec<u64> {
        self.upstreams
            .iter()
            .map(|u| u.handed.load(Ordering::Relaxed))
            .collect()
    }
}

/// Copies both ways until either side ends, counting a request as awaiting
/// from its first byte to the first byte of the answer.
async fn relay(client: TcpStream, server: TcpStream, seen: &Upstream) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let waiting = AtomicBool::new(false);
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = client_read.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            if !waiting.swap(true, Ordering::SeqCst) {
                seen.awaiting.fetch_add(1, Ordering::SeqCst);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = server_read.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            if waiting.swap(false, Ordering::SeqCst) {
                seen.awaiting.fetch_sub(1, Ordering::SeqCst);
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
    }
    // Ended with a request unanswered: the server went away under it (or
    // the client gave up on it).
    if waiting.load(Ordering::SeqCst) {
        seen.awaiting.fetch_sub(1, Ordering::SeqCst);
        seen.cut.fetch_add(1, Ordering::SeqCst);
    }
}
