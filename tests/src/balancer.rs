//! A load balancer for tests: a loopback TCP port that hands each new
//! connection to a random one of several server instances, without
//! stickiness, and to another if the chosen one does not answer (an
//! instance killed, as a balancer's health check would notice).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::seq::SliceRandom;
use tokio::net::TcpStream;

pub struct Balancer {
    pub url: String,
    /// Connections handed to each upstream, in the order given.
    pub handed: Arc<Vec<AtomicU64>>,
    _acceptor: crate::acceptor::Acceptor,
}

impl Balancer {
    /// Balances a new loopback port over `upstreams` (`host:port`).
    pub fn start(upstreams: &[String]) -> Balancer {
        let upstreams: Arc<Vec<String>> = Arc::new(
            upstreams
                .iter()
                .map(|u| u.trim_start_matches("http://").to_string())
                .collect(),
        );
        let handed = Arc::new(
            (0..upstreams.len())
                .map(|_| AtomicU64::new(0))
                .collect::<Vec<_>>(),
        );
        let counted = handed.clone();
        let acceptor = crate::acceptor::Acceptor::start(move |mut client| {
            let (upstreams, handed) = (upstreams.clone(), counted.clone());
            async move {
                let mut order: Vec<usize> = (0..upstreams.len()).collect();
                order.shuffle(&mut rand::rng());
                for index in order {
                    if let Ok(mut server) = TcpStream::connect(&upstreams[index]).await {
                        handed[index].fetch_add(1, Ordering::Relaxed);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        return;
                    }
                }
            }
        });
        Balancer {
            url: acceptor.url.clone(),
            handed,
            _acceptor: acceptor,
        }
    }
}
