//! A load balancer for tests: a loopback TCP port that hands each request
//! to a random one of several server instances, without stickiness (a
//! kept-alive connection's next request may reach another), and to another
//! if the chosen one does not answer (an instance killed, as a balancer's
//! health check would notice).
//!
//! It also watches the requests it relays: how many wait for their first
//! response byte at each instance right now (`awaiting`), and how many an
//! instance's connection ended under without answering (`cut`) — so that a
//! test can kill an instance in the middle of a request and show it did.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::seq::SliceRandom;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the balancer saw of one upstream.
#[derive(Default)]
pub struct Upstream {
    /// Requests handed to it (each on its own upstream connection).
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
            async move { relay(client, &addresses, &seen).await }
        });
        Balancer {
            url: acceptor.url.clone(),
            upstreams: seen,
            _acceptor: acceptor,
        }
    }

    /// Requests handed to each upstream.
    pub fn handed(&self) -> Vec<u64> {
        self.upstreams
            .iter()
            .map(|u| u.handed.load(Ordering::Relaxed))
            .collect()
    }
}

/// Relays one client connection request by request: each request (client
/// bytes after an answer) goes to a random instance on a new upstream
/// connection — HTTP/1.1 clients send the next request only after the
/// whole answer, so nothing is pipelined. Counts a request as awaiting from
/// its first byte to the first byte of its answer.
async fn relay(mut client: TcpStream, addresses: &[String], seen: &[Upstream]) {
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    // The instance serving the current request, and whether its answer
    // has begun.
    let mut current: Option<(usize, TcpStream)> = None;
    let mut answered = false;
    loop {
        let Some((index, server)) = current.as_mut() else {
            let n = client.read(&mut from_client).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            current = start_request(&from_client[..n], addresses, seen).await;
            if current.is_none() {
                return;
            }
            answered = false;
            continue;
        };
        let index = *index;
        tokio::select! {
            read = client.read(&mut from_client) => {
                let n = read.unwrap_or(0);
                if n == 0 {
                    break;
                }
                if answered {
                    // The next request: to a random instance again (the
                    // old upstream connection closes when replaced).
                    current = start_request(&from_client[..n], addresses, seen).await;
                    if current.is_none() {
                        return;
                    }
                    answered = false;
                } else if server.write_all(&from_client[..n]).await.is_err() {
                    break;
                }
            }
            read = server.read(&mut from_server) => {
                let n = read.unwrap_or(0);
                if n == 0 {
                    break;
                }
                if !answered {
                    seen[index].awaiting.fetch_sub(1, Ordering::SeqCst);
                    answered = true;
                }
                if client.write_all(&from_server[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    // Ended with a request unanswered: the instance went away under it (or
    // the client gave up on it).
    if let Some((index, _)) = current
        && !answered
    {
        seen[index].awaiting.fetch_sub(1, Ordering::SeqCst);
        seen[index].cut.fetch_add(1, Ordering::SeqCst);
    }
}

/// A request's first bytes, sent to a random instance; counted as awaiting
/// there. `None` if no instance answers.
async fn start_request(
    bytes: &[u8],
    addresses: &[String],
    seen: &[Upstream],
) -> Option<(usize, TcpStream)> {
    let (index, mut server) = connect_random(addresses, seen).await?;
    server.write_all(bytes).await.ok()?;
    seen[index].awaiting.fetch_add(1, Ordering::SeqCst);
    Some((index, server))
}

/// A connection to a random instance, or to another if it does not answer
/// (an instance killed, as a balancer's health check would notice).
async fn connect_random(addresses: &[String], seen: &[Upstream]) -> Option<(usize, TcpStream)> {
    let mut order: Vec<usize> = (0..addresses.len()).collect();
    order.shuffle(&mut rand::rng());
    for index in order {
        if let Ok(server) = TcpStream::connect(&addresses[index]).await {
            seen[index].handed.fetch_add(1, Ordering::SeqCst);
            return Some((index, server));
        }
    }
    None
}
