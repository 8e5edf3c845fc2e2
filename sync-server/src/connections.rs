//! A bound on open connections, in all and per client address: every
//! connection holds a file descriptor, a task and (with TLS) a session for
//! as long as the client keeps it, and requests in work are bounded
//! elsewhere, but how many connections are open was not. One over the
//! bound is closed at once, before TLS, so whoever opens thousands and
//! sends nothing holds at most the bound, and laptops elsewhere keep
//! syncing. A laptop that meets a closed connection takes it for a network
//! outage and tries again later.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The acceptor that counts: wrap the server's own (TLS comes after it).
#[derive(Clone)]
pub struct ConnectionLimit {
    shared: Arc<Shared>,
}

struct Shared {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<Open>,
    /// A refusal was logged and the server has not had room since: one
    /// warning per flood, not one per connection.
    warned: AtomicBool,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

impl ConnectionLimit {
    pub fn new(max_total: usize, max_per_address: usize) -> ConnectionLimit {
        ConnectionLimit {
            shared: Arc::new(Shared {
                max_total: max_total.max(1),
                max_per_address: max_per_address.max(1),
                open: Mutex::new(Open::default()),
                warned: AtomicBool::new(false),
            }),
        }
    }

    /// How many connections are open now.
    pub fn open(&self) -> usize {
        self.shared.lock().total
    }

    /// A place for a connection from `address`, or `None` when the server
    /// or that address is at its bound.
    fn admit(&self, address: IpAddr) -> Option<Admitted> {
        let mut open = self.shared.lock();
        let from_address = open.per_address.get(&address).copied().unwrap_or(0);
        if open.total >= self.shared.max_total || from_address >= self.shared.max_per_address {
            return None;
        }
        open.total += 1;
        *open.per_address.entry(address).or_default() += 1;
        Some(Admitted {
            shared: self.shared.clone(),
            address,
        })
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // The counts stay consistent under a panic elsewhere: every change
        // is one statement.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connection's place, given back when the connection closes.
struct Admitted {
    shared: Arc<Shared>,
    address: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.shared.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_address.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_address.remove(&self.address);
            }
        }
        self.shared.warned.store(false, Ordering::Relaxed);
    }
}

/// A TCP stream that holds its place while it is open.
pub struct Counted {
    stream: TcpStream,
    _admitted: Admitted,
}

impl<S: Send + 'static> Accept<TcpStream, S> for ConnectionLimit {
    type Stream = Counted;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Counted, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let admitted = stream
            .peer_addr()
            .ok()
            .and_then(|peer| self.admit(peer.ip()));
        std::future::ready(match admitted {
            Some(admitted) => Ok((
                Counted {
                    stream,
                    _admitted: admitted,
                },
                service,
            )),
            None => {
                if !self.shared.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        max = self.shared.max_total,
                        per_address = self.shared.max_per_address,
                        "too many open connections; closing new ones until there is room"
                    );
                }
                // Dropping the stream closes the connection.
                Err(io::Error::other("too many open connections"))
            }
        })
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectionLimit;
    use std::net::{IpAddr, Ipv4Addr};

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn places_are_bounded_in_all_and_per_address_and_come_back_on_close() {
        let limit = ConnectionLimit::new(3, 2);
        let a1 = limit.admit(A).expect("first from A");
        let _a2 = limit.admit(A).expect("second from A");
        assert!(limit.admit(A).is_none(), "A is at its bound");
        let b1 = limit.admit(B).expect("B has its own");
        assert!(limit.admit(B).is_none(), "the server is full");
        assert_eq!(limit.open(), 3);
        drop(b1);
        let _b2 = limit.admit(B).expect("room again");
        drop(a1);
        assert!(limit.admit(A).is_some(), "A's place came back");
    }
}
