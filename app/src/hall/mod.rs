//! Laptops in one hall exchange cases directly, without the server: over
//! TLS on the hall's network, each proving itself with the certificate the
//! server gave it (`schemas::trust`), each sending only what the other may
//! hold. Described in `docs/hall-sync.md`.
//!
//! One laptop serves ([`serve`]), another connects ([`exchange`]). The
//! connecting one drives the same sync core as the server sync
//! (`sync::core`): its first round offers the heads of every document the
//! serving laptop may hold; the answer brings what it lacks and names what
//! the serving laptop lacks, which the next rounds carry — each round
//! bounded, each committed on its own.

pub mod discovery;
mod tls;
pub mod worker;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;

use serde::{Deserialize, Serialize};
use sprechtag_schemas::trust::{self, DeviceCertificate, Signed};
use sprechtag_schemas::wire::{self, MAX_BODY_BYTES};

use crate::store::{Offer, PeerDoc, Store};
use crate::sync::SyncError;
use crate::sync::core::{Answer, Outcome, Round, Session, Transport, drive};

/// The DNS-SD service type laptops announce themselves under.
pub const SERVICE_TYPE: &str = "_sprechtag._tcp.local.";

const PROTOCOL: u32 = 1;
/// The label of the TLS keying material both sides sign.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-sprechtag-hall";
/// A peer that says nothing for this long is given up.
const IDLE: Duration = Duration::from_secs(60);

/// Why a laptop does not exchange with another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Neither is an admin device and their departments differ.
    OtherDepartment,
    /// The server revoked the device (as far as either laptop knows).
    Revoked,
    /// The certificate is not the server's, not readable, or expired.
    Certificate,
    /// The device did not prove it holds the certified key.
    Proof,
    /// This laptop has no certificate yet: it must sync with the server.
    Uncertified,
    /// Another protocol version, or the laptop met itself.
    Protocol,
    /// A refusal this version does not know.
    #[serde(other)]
    Other,
}

/// What travels between two laptops, one frame at a time.
#[derive(Debug, Serialize, Deserialize)]
enum Frame {
    Hello(Hello),
    /// The serving laptop does not exchange with this one.
    Refused {
        reason: Refusal,
        message: String,
    },
    Request(HallRequest),
    Response(HallResponse),
}

#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    protocol: u32,
    certificate: Signed,
    /// The session binding, signed with the certified key.
    #[serde(with = "serde_bytes")]
    proof: Vec<u8>,
    /// The newest revocation list the laptop holds.
    revocations: Signed,
}

#[derive(Debug, Serialize, Deserialize)]
struct HallRequest {
    /// The first round: every document the serving laptop may hold, with
    /// the connecting one's heads.
    offer: Option<Vec<Offer>>,
    /// Changes the serving laptop asked for.
    uploads: Vec<PeerDoc>,
    max_response_bytes: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct HallResponse {
    downloads: Vec<PeerDoc>,
    /// Of the offer (first answer only), what the serving laptop lacks.
    wants: Vec<Offer>,
    more: bool,
    /// Uploads taken, and refused with why.
    taken: usize,
    refused: Vec<(String, String)>,
}

/// The other laptop, as its certificate says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerInfo {
    pub device_id: String,
    pub name: String,
    pub user: String,
    pub department: String,
    pub role: sprechtag_schemas::Role,
}

impl From<&DeviceCertificate> for PeerInfo {
    fn from(certificate: &DeviceCertificate) -> Self {
        PeerInfo {
            device_id: certificate.device_id.clone(),
            name: certificate.name.clone(),
            user: certificate.user.clone(),
            department: certificate.department.clone(),
            role: certificate.role,
        }
    }
}

/// What one exchange did, from the connecting laptop's side.
#[derive(Debug, Clone, Serialize)]
pub struct HallReport {
    pub peer: PeerInfo,
    /// Documents whose changes went to the peer, and came from it.
    pub sent: usize,
    pub received: usize,
    /// Documents one side refused, with why.
    pub refused: Vec<(String, String)>,
    pub round_trips: usize,
    pub bytes_up: usize,
    pub bytes_down: usize,
    pub retries: u32,
}

impl HallReport {
    /// Everything both may hold was exchanged.
    pub fn complete(&self) -> bool {
        self.refused.is_empty()
    }
}

fn offline(e: std::io::Error) -> SyncError {
    SyncError::Offline(e.to_string())
}

fn write_frame(stream: &mut impl Write, frame: &Frame) -> Result<usize, SyncError> {
    let body = wire::encode(frame);
    let length = u32::try_from(body.len())
        .map_err(|_| SyncError::Protocol("a frame larger than 4 GiB".into()))?;
    stream.write_all(&length.to_be_bytes()).map_err(offline)?;
    stream.write_all(&body).map_err(offline)?;
    stream.flush().map_err(offline)?;
    Ok(body.len() + 4)
}

/// One frame's bytes, never more than a sync body may hold.
fn read_body(stream: &mut impl Read) -> Result<Vec<u8>, SyncError> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).map_err(offline)?;
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_BODY_BYTES {
        return Err(SyncError::Protocol(format!(
            "the other laptop sent a frame of {length} bytes"
        )));
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).map_err(offline)?;
    Ok(body)
}

fn decode(body: &[u8]) -> Result<Frame, SyncError> {
    wire::decode(body).map_err(|e| SyncError::Protocol(format!("the other laptop: {e}")))
}

/// What both ends of this TLS session, and only they, derived from it.
fn binding(connection: &rustls::ConnectionCommon<impl Sized>) -> Result<[u8; 32], SyncError> {
    connection
        .export_keying_material([0u8; 32], EXPORTER_LABEL, None)
        .map_err(|e| SyncError::Protocol(e.to_string()))
}

/// Why this laptop does not exchange with the one that showed `hello`;
/// `Ok` with its certificate if it may.
fn check(
    store: &mut Store,
    hello: &Hello,
    binding: &[u8],
) -> Result<DeviceCertificate, (Refusal, String)> {
    if hello.protocol != PROTOCOL {
        return Err((
            Refusal::Protocol,
            format!("hall protocol {} is not spoken here", hello.protocol),
        ));
    }
    // A newer list the other laptop learnt from the server counts here too.
    let _ = store.learn_revocations(&hello.revocations);
    let Ok(Some(identity)) = store.hall_identity() else {
        return Err((
            Refusal::Uncertified,
            "this laptop has no certificate".into(),
        ));
    };
    let now = sprechtag_schemas::clock::now();
    let peer = trust::verify_certificate(&identity.server_key, &hello.certificate, now)
        .map_err(|e| (Refusal::Certificate, format!("certificate refused: {e}")))?;
    if identity.revoked.revoked.contains(&peer.device_id) {
        return Err((
            Refusal::Revoked,
            format!("the device {} has been revoked", peer.device_id),
        ));
    }
    trust::verify_proof(&peer, binding, &hello.proof)
        .map_err(|e| (Refusal::Proof, e.to_string()))?;
    if peer.device_id == identity.own.device_id {
        return Err((
            Refusal::Protocol,
            "a laptop does not exchange with itself".into(),
        ));
    }
    let admin = sprechtag_schemas::Role::Admin;
    if identity.own.role != admin
        && peer.role != admin
        && peer.department != identity.own.department
    {
        return Err((
            Refusal::OtherDepartment,
            format!(
                "the device belongs to another department ({})",
                peer.department
            ),
        ));
    }
    Ok(peer)
}

fn own_hello(store: &Store, binding: &[u8]) -> Result<Hello, SyncError> {
    let identity = store
        .hall_identity()?
        .ok_or_else(|| SyncError::HallRefused {
            reason: Refusal::Uncertified,
            by_peer: false,
            detail: "this laptop has no certificate for the hall yet: sync with the server once"
                .into(),
        })?;
    Ok(Hello {
        protocol: PROTOCOL,
        proof: identity.key.prove(binding),
        certificate: identity.certificate,
        revocations: identity.revocations,
    })
}

/// A laptop open for exchanges: its listener and TLS set-up.
#[derive(Debug)]
pub struct HallServer {
    listener: TcpListener,
    config: std::sync::Arc<rustls::ServerConfig>,
}

impl HallServer {
    /// Listens on `listener` (made non-blocking: [`HallServer::poll`]
    /// never waits for a connection).
    pub fn new(listener: TcpListener) -> Result<HallServer, SyncError> {
        listener.set_nonblocking(true).map_err(offline)?;
        Ok(HallServer {
            listener,
            config: tls::server_config()?,
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, SyncError> {
        self.listener.local_addr().map_err(offline)
    }

    /// Serves one connection if one is waiting; `None` if none is.
    pub fn poll(&self, store: &mut Store) -> Option<Result<ServedReport, SyncError>> {
        match self.listener.accept() {
            Ok((socket, address)) => Some(serve_one(store, socket, address, self.config.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => Some(Err(offline(e))),
        }
    }
}

/// Serves exchanges on `listener`, one connection after the other, until
/// `stop` says so (checked between connections). Each connection's outcome
/// goes to `log`.
pub fn serve(
    store: &mut Store,
    listener: TcpListener,
    stop: &dyn Fn() -> bool,
    log: &mut dyn FnMut(Result<ServedReport, SyncError>),
) -> Result<(), SyncError> {
    let server = HallServer::new(listener)?;
    while !stop() {
        match server.poll(store) {
            Some(outcome) => log(outcome),
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    Ok(())
}

/// Remembers the exchange for the list and the status bar.
fn remember(store: &mut Store, peer: &PeerInfo) -> Result<(), SyncError> {
    store.record_hall_contact(&crate::store::HallContact {
        device_id: peer.device_id.clone(),
        name: peer.name.clone(),
        user: peer.user.clone(),
        at: sprechtag_schemas::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })?;
    Ok(())
}

/// What one served connection did.
#[derive(Debug, Clone, Serialize)]
pub struct ServedReport {
    pub address: String,
    pub peer: PeerInfo,
    pub sent: usize,
    pub received: usize,
}

fn serve_one(
    store: &mut Store,
    socket: TcpStream,
    address: SocketAddr,
    config: std::sync::Arc<rustls::ServerConfig>,
) -> Result<ServedReport, SyncError> {
    socket.set_nonblocking(false).map_err(offline)?;
    socket.set_read_timeout(Some(IDLE)).map_err(offline)?;
    socket.set_write_timeout(Some(IDLE)).map_err(offline)?;
    let connection =
        rustls::ServerConnection::new(config).map_err(|e| SyncError::Config(e.to_string()))?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).map_err(offline)?;
    }
    let binding = binding(&stream.conn)?;
    // The connecting laptop shows itself first: a stranger learns nothing,
    // not even who serves.
    let Frame::Hello(hello) = decode(&read_body(&mut stream)?)? else {
        return Err(SyncError::Protocol("expected a hello".into()));
    };
    let peer = match check(store, &hello, &binding) {
        Ok(peer) => peer,
        Err((reason, message)) => {
            let refused = Frame::Refused {
                reason,
                message: message.clone(),
            };
            let _ = write_frame(&mut stream, &refused);
            return Err(SyncError::HallRefused {
                reason,
                by_peer: false,
                detail: message,
            });
        }
    };
    write_frame(&mut stream, &Frame::Hello(own_hello(store, &binding)?))?;
    let own_scope = store
        .hall_identity()?
        .and_then(|i| i.own.scope().map(str::to_string));
    let mut queue: VecDeque<(String, Vec<u8>)> = VecDeque::new();
    let mut report = ServedReport {
        address: address.to_string(),
        peer: PeerInfo::from(&peer),
        sent: 0,
        received: 0,
    };
    loop {
        let body = match read_body(&mut stream) {
            Ok(body) => body,
            // The connecting laptop is done and closed.
            Err(SyncError::Offline(_)) => {
                remember(store, &report.peer)?;
                return Ok(report);
            }
            Err(e) => return Err(e),
        };
        let Frame::Request(request) = decode(&body)? else {
            return Err(SyncError::Protocol("expected a request".into()));
        };
        let mut response = HallResponse::default();
        if let Some(offer) = &request.offer {
            response.wants = store.hall_wants(offer)?;
            // Everything the other laptop may hold, against what it has.
            for mine in store.hall_offer(peer.scope())? {
                let theirs = offer
                    .iter()
                    .find(|o| o.doc_id == mine.doc_id)
                    .map(|o| o.heads.clone())
                    .unwrap_or_default();
                if theirs != mine.heads {
                    queue.push_back((mine.doc_id, theirs));
                }
            }
        }
        let taken = store.take_from_peer(&request.uploads, own_scope.as_deref())?;
        report.received += taken.taken;
        response.taken = taken.taken;
        response.refused = taken.refused;
        let budget = budget(request.max_response_bytes);
        let mut bytes = 0;
        while let Some((doc_id, theirs)) = queue.front() {
            if bytes > 0 && bytes >= budget {
                break;
            }
            if let Some(doc) = store.hall_changes(doc_id, theirs)? {
                if !response.downloads.is_empty() && bytes + doc.changes.len() > budget {
                    break;
                }
                bytes += doc.changes.len();
                response.downloads.push(doc);
            }
            queue.pop_front();
        }
        report.sent += response.downloads.len();
        response.more = !queue.is_empty();
        write_frame(&mut stream, &Frame::Response(response))?;
    }
}

fn budget(asked: u32) -> usize {
    match asked as usize {
        0 => wire::BATCH_BYTES,
        asked => asked.clamp(wire::MIN_BATCH_BYTES, wire::BATCH_BYTES),
    }
}

/// One full exchange with the laptop serving at `address`.
pub fn exchange(store: &mut Store, address: &str) -> Result<HallReport, SyncError> {
    let socket_address = address.parse::<SocketAddr>().map_err(|e| {
        SyncError::Config(format!("{address:?} is not an address (host:port): {e}"))
    })?;
    let socket =
        TcpStream::connect_timeout(&socket_address, Duration::from_secs(10)).map_err(offline)?;
    socket.set_read_timeout(Some(IDLE)).map_err(offline)?;
    socket.set_write_timeout(Some(IDLE)).map_err(offline)?;
    let name =
        ServerName::try_from("sprechtag-hall").map_err(|e| SyncError::Config(e.to_string()))?;
    let connection = rustls::ClientConnection::new(tls::client_config()?, name.to_owned())
        .map_err(|e| SyncError::Config(e.to_string()))?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).map_err(offline)?;
    }
    let binding = binding(&stream.conn)?;
    let mut bytes_up = write_frame(&mut stream, &Frame::Hello(own_hello(store, &binding)?))?;
    let answer = read_body(&mut stream)?;
    let mut bytes_down = answer.len() + 4;
    let peer = match decode(&answer)? {
        Frame::Hello(hello) => {
            check(store, &hello, &binding).map_err(|(reason, detail)| SyncError::HallRefused {
                reason,
                by_peer: false,
                detail,
            })?
        }
        Frame::Refused { reason, message } => {
            return Err(SyncError::HallRefused {
                reason,
                by_peer: true,
                detail: message,
            });
        }
        _ => return Err(SyncError::Protocol("expected a hello".into())),
    };
    let own_scope = store
        .hall_identity()?
        .and_then(|i| i.own.scope().map(str::to_string));
    let mut session = PeerSession {
        store,
        peer_scope: peer.scope().map(str::to_string),
        own_scope,
        offered: false,
        wants: VecDeque::new(),
        in_flight: 0,
        report: HallReport {
            peer: PeerInfo::from(&peer),
            sent: 0,
            received: 0,
            refused: Vec::new(),
            round_trips: 0,
            bytes_up: 0,
            bytes_down: 0,
            retries: 0,
        },
    };
    let mut link = PeerLink { stream };
    // A dropped hall connection is not retried on the same stream: the
    // next exchange starts anew (a retry here would only fail again).
    let core = drive(&mut session, &mut link, &mut |_| {})?;
    let mut report = session.report;
    report.retries = core.retries();
    remember(store, &report.peer)?;
    bytes_up += report.bytes_up;
    bytes_down += report.bytes_down;
    report.bytes_up = bytes_up;
    report.bytes_down = bytes_down;
    link.stream.conn.send_close_notify();
    let _ = link.stream.flush();
    Ok(report)
}

struct PeerLink {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl Transport for PeerLink {
    fn round_trip(&mut self, body: Vec<u8>) -> Result<Answer, SyncError> {
        let length = u32::try_from(body.len())
            .map_err(|_| SyncError::Protocol("a frame larger than 4 GiB".into()))?;
        self.stream
            .write_all(&length.to_be_bytes())
            .map_err(offline)?;
        self.stream.write_all(&body).map_err(offline)?;
        self.stream.flush().map_err(offline)?;
        let started = Instant::now();
        let body = read_body(&mut self.stream).map_err(|e| match e {
            // A connection that cannot be resumed: no quick retries.
            SyncError::Offline(why) => SyncError::Protocol(format!("the connection broke: {why}")),
            other => other,
        })?;
        Ok(Answer {
            body,
            transfer: started.elapsed(),
        })
    }
}

/// The connecting laptop's side of an exchange.
struct PeerSession<'a> {
    store: &'a mut Store,
    peer_scope: Option<String>,
    own_scope: Option<String>,
    offered: bool,
    /// What the serving laptop lacks: documents with the heads it holds.
    wants: VecDeque<Offer>,
    /// Documents sent in the request in flight.
    in_flight: usize,
    report: HallReport,
}

impl Session for PeerSession<'_> {
    fn request(&mut self, round: Round) -> Result<Vec<u8>, SyncError> {
        let mut request = HallRequest {
            offer: None,
            uploads: Vec::new(),
            max_response_bytes: u32::try_from(round.budget).unwrap_or(u32::MAX),
        };
        if !self.offered {
            request.offer = Some(self.store.hall_offer(self.peer_scope.as_deref())?);
        } else {
            let mut bytes = 0;
            while let Some(want) = self.wants.front() {
                if let Some(doc) = self.store.hall_changes(&want.doc_id, &want.heads)? {
                    if !request.uploads.is_empty() && bytes + doc.changes.len() > round.budget {
                        break;
                    }
                    bytes += doc.changes.len();
                    request.uploads.push(doc);
                }
                self.wants.pop_front();
            }
        }
        self.in_flight = request.uploads.len();
        let body = wire::encode(&Frame::Request(request));
        self.report.bytes_up += body.len() + 4;
        Ok(body)
    }

    fn apply(&mut self, answer: Answer) -> Result<Outcome, SyncError> {
        self.report.bytes_down += answer.body.len() + 4;
        self.report.round_trips += 1;
        let Frame::Response(response) = decode(&answer.body)? else {
            return Err(SyncError::Protocol("expected a response".into()));
        };
        let first = !std::mem::replace(&mut self.offered, true);
        let taken = self
            .store
            .take_from_peer(&response.downloads, self.own_scope.as_deref())?;
        self.report.received += taken.taken;
        self.report.sent += response.taken;
        self.report.refused.extend(taken.refused);
        self.report.refused.extend(response.refused);
        self.wants.extend(response.wants);
        Ok(Outcome {
            progressed: first || self.in_flight > 0 || !response.downloads.is_empty(),
            more: response.more,
            uploads_left: !self.wants.is_empty(),
            start_over: false,
            body_bytes: answer.body.len(),
            transfer: answer.transfer,
        })
    }

    fn start_over(&mut self) -> Result<(), SyncError> {
        Err(SyncError::Protocol(
            "a laptop in the hall cannot ask to start over".into(),
        ))
    }
}
