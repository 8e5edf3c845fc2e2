//! The hall in the background: a thread with its own store connection
//! that, while the hall is switched on (its view is open, or the option
//! says so), listens for other laptops, announces this one, finds the
//! others and exchanges with them every few seconds — and with any address
//! the caseworker types. The UI sends [`Command`]s and draws the
//! [`HallStatus`] it gets back; it never waits for the network.

use std::net::TcpListener;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::discovery::{Announced, Discovery};
use super::{HallServer, exchange};
use crate::background::Background;
use crate::store::{HallContact, Store};
use crate::sync::SyncError;

/// How often the laptops found are exchanged with while the hall is on.
pub const AUTOMATIC_EVERY: Duration = Duration::from_secs(10);
/// How long the thread waits for a command before it looks at the network.
const TICK: Duration = Duration::from_millis(100);
/// The port a laptop listens on in the hall, if it is free (else any).
pub const DEFAULT_PORT: u16 = 7878;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Switch the hall on (listen, announce, exchange automatically) or off.
    Active(bool),
    /// Exchange with the laptop at this address now.
    Exchange(String),
}

/// A laptop the list shows: found on the network, or met before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    pub device_id: String,
    pub name: String,
    /// Known once the two exchanged (it is not announced).
    pub user: Option<String>,
    /// Where it listens now (announced, or reached at a typed address
    /// since the app started); `None` for one met before and not seen now.
    pub address: Option<String>,
    /// RFC 3339.
    pub last_exchange: Option<String>,
}

/// What went wrong, for the UI to say in the user's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HallProblem {
    /// No laptop answered at the address.
    Unreachable(String),
    Refused {
        reason: super::Refusal,
        by_peer: bool,
    },
    /// The exchange ran, but documents were refused.
    SomeRefused(usize),
    /// Listening or announcing failed (no network, port taken).
    Network(String),
    Other(String),
}

impl From<&SyncError> for HallProblem {
    fn from(error: &SyncError) -> Self {
        match error {
            SyncError::Offline(why) => HallProblem::Unreachable(why.clone()),
            SyncError::HallRefused {
                reason, by_peer, ..
            } => HallProblem::Refused {
                reason: *reason,
                by_peer: *by_peer,
            },
            other => HallProblem::Other(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HallStatus {
    pub active: bool,
    /// Where this laptop listens while active.
    pub listening: Option<String>,
    pub peers: Vec<PeerRow>,
    /// An exchange is under way.
    pub busy: bool,
    /// The latest exchange, either way.
    pub last: Option<HallContact>,
    /// What went wrong last.
    pub error: Option<HallProblem>,
    /// This laptop has no certificate yet (it has not synced with the
    /// server since it was enrolled).
    pub uncertified: bool,
}

/// The hall thread, as the UI holds it.
#[derive(Debug)]
pub struct HallWorker(Background<Command, HallStatus>);

impl HallWorker {
    pub fn spawn(store: Store, wake: impl Fn() + Send + 'static) -> HallWorker {
        HallWorker(Background::spawn("hall", move |commands, status| {
            let mut hall = Hall {
                store,
                server: None,
                discovery: None,
                status: HallStatus::default(),
                wanted: false,
                next_round: Instant::now(),
                publish: status,
                wake: Box::new(wake),
                sent: None,
                reached: std::collections::HashMap::new(),
            };
            hall.refresh();
            hall.run(&commands);
        }))
    }

    pub fn send(&self, command: Command) {
        self.0.send(command);
    }

    /// The statuses that arrived since the last call, oldest first.
    pub fn received(&self) -> Vec<HallStatus> {
        self.0.received()
    }
}

/// The thread's state.
struct Hall {
    store: Store,
    server: Option<HallServer>,
    discovery: Option<Discovery>,
    status: HallStatus,
    /// What the UI asked for; `status.active` says whether it runs.
    wanted: bool,
    next_round: Instant,
    /// Where the status goes, and what was sent last.
    publish: Sender<HallStatus>,
    wake: Box<dyn Fn()>,
    sent: Option<HallStatus>,
    /// Laptops reached by an address since the app started (typed, where
    /// mDNS does not get through): listed with a button and exchanged
    /// with automatically like the ones found, until an exchange fails.
    reached: std::collections::HashMap<String, String>,
}

impl Hall {
    fn run(mut self, commands: &Receiver<Command>) {
        loop {
            self.publish();
            match commands.recv_timeout(TICK) {
                Ok(Command::Active(on)) => self.activate(on),
                Ok(Command::Exchange(address)) => self.exchange_with(&address),
                Err(RecvTimeoutError::Timeout) => self.tick(),
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Sends the status if it changed: only news wakes the UI.
    fn publish(&mut self) {
        if self.sent.as_ref() != Some(&self.status) {
            let _ = self.publish.send(self.status.clone());
            self.sent = Some(self.status.clone());
            (self.wake)();
        }
    }

    fn activate(&mut self, on: bool) {
        self.wanted = on;
        self.status.error = None;
        if on {
            self.start();
        } else {
            self.discovery = None;
            self.server = None;
            self.status.active = false;
            self.status.listening = None;
        }
        self.refresh();
    }

    /// Listens and announces; without a certificate (no server sync since
    /// the enrolment) it waits, and `tick` tries again.
    fn start(&mut self) {
        if self.status.active {
            return;
        }
        self.next_round = Instant::now() + AUTOMATIC_EVERY;
        let identity = match self.store.hall_identity() {
            Ok(Some(identity)) => identity.own,
            _ => {
                self.status.uncertified = true;
                return;
            }
        };
        let listener = TcpListener::bind(("0.0.0.0", DEFAULT_PORT))
            .or_else(|_| TcpListener::bind(("0.0.0.0", 0)));
        let server = match listener
            .map_err(|e| e.to_string())
            .and_then(|listener| HallServer::new(listener).map_err(|e| e.to_string()))
        {
            Ok(server) => server,
            Err(e) => {
                self.status.error = Some(HallProblem::Network(e));
                return;
            }
        };
        let port = server.local_addr().map(|a| a.port()).unwrap_or_default();
        self.status.listening = Some(format!("{}:{port}", own_address()));
        self.server = Some(server);
        self.status.active = true;
        // Without mDNS the laptop is still reached by its address.
        match Discovery::start().and_then(|mut discovery| {
            discovery.announce(
                &identity.device_id,
                &identity.name,
                &identity.department,
                port,
            )?;
            Ok(discovery)
        }) {
            Ok(discovery) => self.discovery = Some(discovery),
            Err(e) => self.status.error = Some(HallProblem::Network(e)),
        }
        self.next_round = Instant::now() + Duration::from_secs(2);
    }

    fn tick(&mut self) {
        if let Some(server) = &self.server
            && let Some(served) = server.poll(&mut self.store)
        {
            // A laptop refused is worth saying; one that went away (or a
            // stranger that never spoke) is not.
            if let Err(e @ SyncError::HallRefused { .. }) = served {
                self.status.error = Some(HallProblem::from(&e));
            }
            self.refresh();
        }
        if self.discovery.as_mut().is_some_and(Discovery::poll) {
            self.refresh();
        }
        if !self.wanted || Instant::now() < self.next_round {
            return;
        }
        if !self.status.active {
            // The certificate may have come with a sync meanwhile.
            self.start();
            self.refresh();
            return;
        }
        self.next_round = Instant::now() + AUTOMATIC_EVERY;
        // Each laptop found, unless the two exchanged within the last round
        // either way: of two laptops with the hall on, one calls and the
        // other, having just answered, waits; one that only answers (`hall
        // serve`) is called all the same.
        let now = sprechtag_schemas::clock::now();
        let recent = |at: &Option<String>| {
            at.as_deref()
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                .is_some_and(|at| {
                    (now - at.with_timezone(&chrono::Utc))
                        .to_std()
                        .is_ok_and(|age| age < AUTOMATIC_EVERY)
                })
        };
        let due: Vec<String> = self
            .status
            .peers
            .iter()
            .filter(|p| !recent(&p.last_exchange))
            .filter_map(|p| p.address.clone())
            .collect();
        for address in due {
            self.exchange_with(&address);
        }
    }

    fn own_id(&self) -> String {
        self.store
            .enrolment()
            .ok()
            .flatten()
            .map(|e| e.device_id)
            .unwrap_or_default()
    }

    fn exchange_with(&mut self, address: &str) {
        self.status.busy = true;
        // The UI shows the exchange under way while this thread waits.
        self.publish();
        let address = address.trim();
        match exchange(&mut self.store, address) {
            Ok(report) => {
                // Another laptop may answer at an address now.
                self.reached.retain(|_, reached| reached != address);
                self.reached
                    .insert(report.peer.device_id.clone(), address.to_string());
                self.status.error =
                    (!report.complete()).then_some(HallProblem::SomeRefused(report.refused.len()));
            }
            Err(e) => {
                // Gone, or another laptop at that address now: not called
                // again every round (each try may wait 10 s to connect).
                self.reached.retain(|_, reached| reached != address);
                self.status.error = Some(HallProblem::from(&e));
            }
        }
        self.status.busy = false;
        self.refresh();
    }

    /// The list: laptops announced now, then those met before.
    fn refresh(&mut self) {
        let own = self.own_id();
        let contacts = self.store.hall_contacts().unwrap_or_default();
        let own_department = self
            .store
            .enrolment()
            .ok()
            .flatten()
            .filter(|e| e.role != sprechtag_schemas::Role::Admin)
            .map(|e| e.department);
        let announced: Vec<Announced> = self
            .discovery
            .as_ref()
            .map(|d| d.peers(&own))
            .unwrap_or_default()
            .into_iter()
            .filter(|a| own_department.as_ref().is_none_or(|d| *d == a.department))
            .collect();
        let mut peers: Vec<PeerRow> = announced
            .iter()
            .map(|a| {
                let met = contacts.iter().find(|c| c.device_id == a.device_id);
                PeerRow {
                    device_id: a.device_id.clone(),
                    name: met.map_or_else(|| a.name.clone(), |c| c.name.clone()),
                    user: met.map(|c| c.user.clone()),
                    address: Some(a.address.to_string()),
                    last_exchange: met.map(|c| c.at.clone()),
                }
            })
            .collect();
        for contact in &contacts {
            if !peers.iter().any(|p| p.device_id == contact.device_id) {
                peers.push(PeerRow {
                    device_id: contact.device_id.clone(),
                    name: contact.name.clone(),
                    user: Some(contact.user.clone()),
                    address: self.reached.get(&contact.device_id).cloned(),
                    last_exchange: Some(contact.at.clone()),
                });
            }
        }
        self.status.peers = peers;
        self.status.last = contacts.into_iter().next();
        self.status.uncertified = matches!(self.store.hall_identity(), Ok(None));
    }
}

/// This machine's address on the hall's network, for people to type on
/// another laptop: the one a route to the outside would leave from
/// (no packet is sent), or loopback.
fn own_address() -> String {
    std::net::UdpSocket::bind(("0.0.0.0", 0))
        .and_then(|socket| {
            socket.connect(("192.0.2.1", 9))?;
            socket.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}
