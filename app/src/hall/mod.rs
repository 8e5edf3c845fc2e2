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
use sprechtag_schemas::trust::{self, DeviceCertificate, Signed, UserProof};
use sprechtag_schemas::wire::{self, MAX_BODY_BYTES};

use crate::store::{Offer, PeerDoc, Sender, Store, offer_digest};
use crate::sync::SyncError;
use crate::sync::core::{Answer, Outcome, Round, Session, Transport, drive};

/// The DNS-SD service type laptops announce themselves under.
pub const SERVICE_TYPE: &str = "_sprechtag._tcp.local.";

/// 2: the first request may carry the offer's digest alone.
const PROTOCOL: u32 = 2;
/// The label of the TLS keying material both sides sign.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-sprechtag-hall";
/// A peer that says nothing for this long is given up.
const IDLE: Duration = Duration::from_secs(60);
/// The TLS handshake and both hellos take at most this long: a stranger
/// who connects and says nothing holds the serving laptop no longer.
const MEETING: Duration = Duration::from_secs(15);
/// A whole exchange takes at most this long (a day's work takes seconds on
/// loopback and about a minute at 256 kbit/s): a peer that trickles bytes
/// or never stops sending cannot keep a laptop busy.
const EXCHANGE: Duration = Duration::from_secs(10 * 60);
/// The largest hello read before the other laptop is checked (a
/// certificate and a revocation list of thousands of devices fit).
const MAX_HELLO_BYTES: usize = 1 << 20;

/// A TLS stream over TCP, either side.
type Tls<C> = rustls::StreamOwned<C, TcpStream>;

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
    /// Another protocol version.
    Protocol,
    /// The laptop at the address is this one.
    Itself,
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
    /// The user's name, from the serving laptop only: it has checked the
    /// connecting one by now (the connecting one names its user in its
    /// first request, once it has checked the serving one).
    user: Option<UserProof>,
}

#[derive(Debug, Serialize, Deserialize)]
struct HallRequest {
    /// Every document the serving laptop may hold, with the connecting
    /// one's heads: in the first request, unless the digest alone was
    /// sent and the serving laptop asked for it.
    offer: Option<Vec<Offer>>,
    /// The first request: the offer's digest (`store::offer_digest`).
    #[serde(default, with = "serde_bytes")]
    digest: Vec<u8>,
    /// Changes the serving laptop asked for.
    uploads: Vec<PeerDoc>,
    /// The connecting laptop's user (first request only).
    user: Option<UserProof>,
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
    /// The digests agree: nothing to exchange.
    #[serde(default)]
    in_step: bool,
    /// The digests differ and no offer came: the next request brings it.
    #[serde(default)]
    offer_wanted: bool,
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
            // Known once the other laptop has proved itself.
            user: String::new(),
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
    write_body(stream, &wire::encode(frame))
}

/// The length and the body in one write: two would wait for each other's
/// acknowledgement (Nagle and delayed ACKs cost 40 ms a round).
fn write_body(stream: &mut impl Write, body: &[u8]) -> Result<usize, SyncError> {
    let length = u32::try_from(body.len())
        .map_err(|_| SyncError::Protocol("a frame larger than 4 GiB".into()))?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(body);
    stream.write_all(&frame).map_err(offline)?;
    stream.flush().map_err(offline)?;
    Ok(frame.len())
}

/// Lets the socket wait no longer than `deadline` (and `IDLE` at most).
fn wait_until(socket: &TcpStream, deadline: Instant) -> Result<(), SyncError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(SyncError::Protocol("the other laptop took too long".into()));
    }
    let wait = Some(left.min(IDLE));
    socket.set_read_timeout(wait).map_err(offline)?;
    socket.set_write_timeout(wait).map_err(offline)
}

/// Fills `buf` before `deadline`, read by read: bytes trickled in one at a
/// time do not stretch the wait.
fn read_by<C, S>(stream: &mut Tls<C>, buf: &mut [u8], deadline: Instant) -> Result<(), SyncError>
where
    C: std::ops::DerefMut + std::ops::Deref<Target = rustls::ConnectionCommon<S>>,
    S: rustls::SideData,
{
    let mut filled = 0;
    while filled < buf.len() {
        wait_until(&stream.sock, deadline)?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return Err(offline(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(e, deadline)),
        }
    }
    Ok(())
}

/// One frame's bytes, at most `max`, before `deadline`.
fn read_body<C, S>(stream: &mut Tls<C>, max: usize, deadline: Instant) -> Result<Vec<u8>, SyncError>
where
    C: std::ops::DerefMut + std::ops::Deref<Target = rustls::ConnectionCommon<S>>,
    S: rustls::SideData,
{
    let mut length = [0u8; 4];
    read_by(stream, &mut length, deadline)?;
    let length = u32::from_be_bytes(length) as usize;
    if length > max {
        return Err(SyncError::Protocol(format!(
            "the other laptop sent a frame of {length} bytes"
        )));
    }
    let mut body = vec![0; length];
    read_by(stream, &mut body, deadline)?;
    Ok(body)
}

/// Completes the TLS handshake before `deadline`.
fn handshake<C, S>(stream: &mut Tls<C>, deadline: Instant) -> Result<(), SyncError>
where
    C: std::ops::DerefMut + std::ops::Deref<Target = rustls::ConnectionCommon<S>>,
    S: rustls::SideData,
{
    while stream.conn.is_handshaking() {
        wait_until(&stream.sock, deadline)?;
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| timed_out(e, deadline))?;
    }
    Ok(())
}

/// A socket's timeout past `deadline` is the peer taking too long; any
/// other failure is the link's.
fn timed_out(error: std::io::Error, deadline: Instant) -> SyncError {
    let waited = matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    );
    if waited && Instant::now() >= deadline {
        SyncError::Protocol("the other laptop took too long".into())
    } else {
        offline(error)
    }
}

fn decode(body: &[u8]) -> Result<Frame, SyncError> {
    wire::decode(body).map_err(|e| SyncError::Protocol(format!("the other laptop: {e}")))
}

/// Which end of the session a proof is made by: each signs its own
/// value, so a hello reflected back to the laptop that sent it fails.
const CONNECTING: &[u8] = b"connecting";
const SERVING: &[u8] = b"serving";

/// What both ends of this TLS session, and only they, derived from it,
/// for the proof of the end `side`.
fn binding(
    connection: &rustls::ConnectionCommon<impl Sized>,
    side: &[u8],
) -> Result<[u8; 32], SyncError> {
    connection
        .export_keying_material([0u8; 32], EXPORTER_LABEL, Some(side))
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
            Refusal::Itself,
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

/// This laptop's hello; `with_user` only to a laptop already checked.
fn own_hello(store: &Store, binding: &[u8], with_user: bool) -> Result<Hello, SyncError> {
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
        user: with_user.then_some(identity.user),
    })
}

/// The user's name `proof` opens in `peer`'s certificate.
fn user_of(peer: &DeviceCertificate, proof: Option<&UserProof>) -> Result<String, SyncError> {
    match proof {
        Some(proof) if proof.opens(peer) => Ok(proof.user.clone()),
        _ => Err(SyncError::Protocol(
            "the other laptop did not name the user of its certificate".into(),
        )),
    }
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

/// Remembers the exchange for the list and the status bar, with the digest
/// of what this laptop holds in the other's scope (`scope`) now — `agreed`
/// when the two found themselves in step (nothing was read anew).
fn remember(
    store: &mut Store,
    peer: &PeerInfo,
    scope: Option<&str>,
    agreed: Option<Vec<u8>>,
) -> Result<(), SyncError> {
    let digest = match agreed {
        Some(digest) => digest,
        None => offer_digest(&store.hall_offer(scope)?),
    };
    store.record_hall_contact(&crate::store::HallContact {
        device_id: peer.device_id.clone(),
        name: peer.name.clone(),
        user: peer.user.clone(),
        at: sprechtag_schemas::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        digest: hex::encode(digest),
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
    let started = Instant::now();
    let (meeting, deadline) = (started + MEETING, started + EXCHANGE);
    socket.set_nonblocking(false).map_err(offline)?;
    socket.set_nodelay(true).map_err(offline)?;
    let connection =
        rustls::ServerConnection::new(config).map_err(|e| SyncError::Config(e.to_string()))?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    handshake(&mut stream, meeting)?;
    let (theirs, ours) = (
        binding(&stream.conn, CONNECTING)?,
        binding(&stream.conn, SERVING)?,
    );
    // The connecting laptop shows itself first: a stranger learns nothing,
    // not even who serves.
    let hello = read_body(&mut stream, MAX_HELLO_BYTES, meeting)?;
    let Frame::Hello(hello) = decode(&hello)? else {
        return Err(SyncError::Protocol("expected a hello".into()));
    };
    let peer = match check(store, &hello, &theirs) {
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
    write_frame(&mut stream, &Frame::Hello(own_hello(store, &ours, true)?))?;
    // Read once: it signs every document sent.
    let identity = store.hall_identity()?;
    let own_scope = identity
        .as_ref()
        .and_then(|i| i.own.scope().map(str::to_string));
    let mut queue: VecDeque<(String, Vec<u8>)> = VecDeque::new();
    let (mut greeted, mut offered, mut asked_for_offer) = (false, false, false);
    // The digest both held, when they were in step.
    let mut agreed = None;
    let mut report = ServedReport {
        address: address.to_string(),
        peer: PeerInfo::from(&peer),
        sent: 0,
        received: 0,
    };
    loop {
        let body = match read_body(&mut stream, MAX_BODY_BYTES, deadline) {
            Ok(body) => body,
            // The connecting laptop is done and closed.
            Err(SyncError::Offline(_)) => {
                remember(store, &report.peer, peer.scope(), agreed)?;
                return Ok(report);
            }
            Err(e) => return Err(e),
        };
        let Frame::Request(request) = decode(&body)? else {
            return Err(SyncError::Protocol("expected a request".into()));
        };
        let mut response = HallResponse::default();
        // The first request names the user and brings the offer or its
        // digest; one offer at most: a second would grow the queue with
        // every round.
        let first = !std::mem::replace(&mut greeted, true);
        if first {
            report.peer.user = user_of(&peer, request.user.as_ref())?;
        }
        match (&request.offer, offered) {
            (Some(_), true) => return Err(SyncError::Protocol("a second offer".into())),
            (Some(_), false) if !first && !asked_for_offer => {
                return Err(SyncError::Protocol("an offer nobody asked for".into()));
            }
            (None, false) if first && request.digest.is_empty() => {
                return Err(SyncError::Protocol(
                    "the first request offers nothing".into(),
                ));
            }
            (None, false) if !first => {
                return Err(SyncError::Protocol(
                    "the offer asked for did not come".into(),
                ));
            }
            _ => {}
        }
        if first && request.offer.is_none() {
            // The digest alone: the same as here, or send the offer.
            let mine = offer_digest(&store.hall_offer(peer.scope())?);
            if mine == request.digest {
                response.in_step = true;
                agreed = Some(mine);
            } else {
                response.offer_wanted = true;
                asked_for_offer = true;
            }
        }
        if let Some(offer) = &request.offer {
            offered = true;
            response.wants = store.hall_wants(offer)?;
            // Everything the other laptop may hold, against what it has.
            let their_heads: std::collections::HashMap<&str, &[u8]> = offer
                .iter()
                .map(|o| (o.doc_id.as_str(), o.heads.as_slice()))
                .collect();
            for mine in store.hall_offer(peer.scope())? {
                let theirs = their_heads
                    .get(mine.doc_id.as_str())
                    .copied()
                    .unwrap_or_default();
                if theirs != mine.heads.as_slice() {
                    queue.push_back((mine.doc_id, theirs.to_vec()));
                }
            }
        }
        let sender = Sender {
            certificate: &peer,
            user: &report.peer.user,
        };
        let taken = store.take_from_peer(&request.uploads, sender, own_scope.as_deref())?;
        report.received += taken.taken;
        response.taken = taken.taken;
        response.refused = taken.refused;
        let budget = budget(request.max_response_bytes);
        let mut bytes = 0;
        while let Some((doc_id, theirs)) = queue.front() {
            if bytes > 0 && bytes >= budget {
                break;
            }
            if let Some(doc) = store.hall_changes(doc_id, theirs, identity.as_ref())? {
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
    use std::net::ToSocketAddrs;
    let started = Instant::now();
    // Twice the serving laptop's: it may be holding a silent stranger for
    // one meeting's time before it gets to this one.
    let (meeting, deadline) = (started + 2 * MEETING, started + EXCHANGE);
    // A name (a host name, `laptop-3.local`) or an address, with its port.
    let socket_address = address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| SyncError::Config(format!("{address:?} is not an address (host:port)")))?;
    let socket =
        TcpStream::connect_timeout(&socket_address, Duration::from_secs(10)).map_err(offline)?;
    socket.set_nodelay(true).map_err(offline)?;
    let name =
        ServerName::try_from("sprechtag-hall").map_err(|e| SyncError::Config(e.to_string()))?;
    let connection = rustls::ClientConnection::new(tls::client_config()?, name.to_owned())
        .map_err(|e| SyncError::Config(e.to_string()))?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    handshake(&mut stream, meeting)?;
    let (ours, theirs) = (
        binding(&stream.conn, CONNECTING)?,
        binding(&stream.conn, SERVING)?,
    );
    let mut bytes_up = write_frame(&mut stream, &Frame::Hello(own_hello(store, &ours, false)?))?;
    let answer = read_body(&mut stream, MAX_HELLO_BYTES, meeting)?;
    let mut bytes_down = answer.len() + 4;
    let (peer, user) = match decode(&answer)? {
        Frame::Hello(hello) => {
            let peer = check(store, &hello, &theirs).map_err(|(reason, detail)| {
                SyncError::HallRefused {
                    reason,
                    by_peer: false,
                    detail,
                }
            })?;
            let user = user_of(&peer, hello.user.as_ref())?;
            (peer, user)
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
    // Read once: it signs every document sent.
    let identity = store.hall_identity()?;
    let own_scope = identity
        .as_ref()
        .and_then(|i| i.own.scope().map(str::to_string));
    let peer_info = PeerInfo {
        user,
        ..PeerInfo::from(&peer)
    };
    let remembered = store.hall_digest(&peer.device_id)?;
    let peer_scope = peer.scope().map(str::to_string);
    let mut session = PeerSession {
        store,
        identity,
        peer_scope: peer_scope.clone(),
        own_scope,
        remembered,
        phase: Phase::Greeting,
        agreed: None,
        held_offer: None,
        offered_ids: std::collections::HashSet::new(),
        wants: VecDeque::new(),
        in_flight: 0,
        peer,
        report: HallReport {
            peer: peer_info,
            sent: 0,
            received: 0,
            refused: Vec::new(),
            round_trips: 0,
            bytes_up: 0,
            bytes_down: 0,
            retries: 0,
        },
    };
    let mut link = PeerLink { stream, deadline };
    // A dropped hall connection is not retried on the same stream: the
    // next exchange starts anew (a retry here would only fail again).
    let core = drive(&mut session, &mut link, &mut |_| {})?;
    let agreed = session.agreed.take();
    let mut report = session.report;
    report.retries = core.retries();
    remember(store, &report.peer, peer_scope.as_deref(), agreed)?;
    bytes_up += report.bytes_up;
    bytes_down += report.bytes_down;
    report.bytes_up = bytes_up;
    report.bytes_down = bytes_down;
    link.stream.conn.send_close_notify();
    let _ = link.stream.flush();
    Ok(report)
}

struct PeerLink {
    stream: Tls<rustls::ClientConnection>,
    /// When the exchange gives up (`EXCHANGE`).
    deadline: Instant,
}

impl Transport for PeerLink {
    fn round_trip(&mut self, body: Vec<u8>) -> Result<Answer, SyncError> {
        wait_until(&self.stream.sock, self.deadline)?;
        write_body(&mut self.stream, &body)?;
        let started = Instant::now();
        let body =
            read_body(&mut self.stream, MAX_BODY_BYTES, self.deadline).map_err(|e| match e {
                // A connection that cannot be resumed: no quick retries.
                SyncError::Offline(why) => {
                    SyncError::Protocol(format!("the connection broke: {why}"))
                }
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
    identity: Option<crate::store::HallIdentity>,
    /// The serving laptop's certificate, checked.
    peer: DeviceCertificate,
    peer_scope: Option<String>,
    own_scope: Option<String>,
    /// The offer digest this laptop held when the last exchange with the
    /// serving laptop ended: unchanged, the first request carries the
    /// digest alone.
    remembered: Option<Vec<u8>>,
    phase: Phase,
    /// The digest both held, when the serving laptop said they are in step.
    agreed: Option<Vec<u8>>,
    /// The offer held back while the digest alone went first.
    held_offer: Option<Vec<Offer>>,
    /// The documents offered: the only ones the other may ask for.
    offered_ids: std::collections::HashSet<String>,
    /// What the serving laptop lacks: documents with the heads it holds.
    wants: VecDeque<Offer>,
    /// Documents sent in the request in flight.
    in_flight: usize,
    report: HallReport,
}

/// Where the connecting laptop's side of an exchange stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing sent yet.
    Greeting,
    /// The first request went; its answer is awaited.
    Greeted { offer_sent: bool },
    /// The serving laptop asked for the offer held back.
    OfferWanted,
    /// The offer went in the request in flight.
    Offered,
    /// The offer was answered: what the serving laptop lacks goes now.
    Exchanging,
}

impl PeerSession<'_> {
    fn offer(&mut self, request: &mut HallRequest, offer: Vec<Offer>) {
        self.offered_ids = offer.iter().map(|o| o.doc_id.clone()).collect();
        request.offer = Some(offer);
    }
}

impl Session for PeerSession<'_> {
    fn request(&mut self, round: Round) -> Result<Vec<u8>, SyncError> {
        let mut request = HallRequest {
            offer: None,
            digest: Vec::new(),
            uploads: Vec::new(),
            user: None,
            max_response_bytes: u32::try_from(round.budget).unwrap_or(u32::MAX),
        };
        match self.phase {
            Phase::Greeting | Phase::Greeted { .. } => {
                let offer = self.store.hall_offer(self.peer_scope.as_deref())?;
                request.digest = offer_digest(&offer);
                // The serving laptop has proved itself by now.
                request.user = self.identity.as_ref().map(|identity| identity.user.clone());
                let unchanged = self.remembered.as_deref() == Some(request.digest.as_slice());
                if unchanged {
                    self.held_offer = Some(offer);
                } else {
                    self.offer(&mut request, offer);
                }
                self.phase = Phase::Greeted {
                    offer_sent: !unchanged,
                };
            }
            Phase::OfferWanted | Phase::Offered => {
                let offer = self.held_offer.take().unwrap_or_default();
                self.offer(&mut request, offer);
                self.phase = Phase::Offered;
            }
            Phase::Exchanging => {
                let mut bytes = 0;
                while let Some(want) = self.wants.front() {
                    if let Some(doc) = self.store.hall_changes(
                        &want.doc_id,
                        &want.heads,
                        self.identity.as_ref(),
                    )? {
                        if !request.uploads.is_empty() && bytes + doc.changes.len() > round.budget {
                            break;
                        }
                        bytes += doc.changes.len();
                        request.uploads.push(doc);
                    }
                    self.wants.pop_front();
                }
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
        let sender = Sender {
            certificate: &self.peer,
            user: &self.report.peer.user,
        };
        let taken =
            self.store
                .take_from_peer(&response.downloads, sender, self.own_scope.as_deref())?;
        self.report.received += taken.taken;
        self.report.sent += response.taken;
        self.report.refused.extend(taken.refused);
        self.report.refused.extend(response.refused);
        let phase = self.phase;
        let mut in_step = false;
        self.phase = match phase {
            Phase::Greeted { offer_sent: false } if response.in_step => {
                in_step = true;
                self.agreed = self.remembered.clone();
                Phase::Exchanging
            }
            Phase::Greeted { offer_sent: false } if response.offer_wanted => Phase::OfferWanted,
            Phase::Greeted { offer_sent: false } => {
                return Err(SyncError::Protocol(
                    "the digest was neither agreed nor was the offer asked for".into(),
                ));
            }
            Phase::Greeted { offer_sent: true } | Phase::Offered => {
                // Only what was offered, and only in answer to the offer:
                // the other laptop cannot name a document outside its
                // scope and have it sent.
                let offered = &self.offered_ids;
                self.wants.extend(
                    response
                        .wants
                        .into_iter()
                        .filter(|want| offered.contains(&want.doc_id)),
                );
                Phase::Exchanging
            }
            other => other,
        };
        Ok(Outcome {
            progressed: phase != Phase::Exchanging
                || self.in_flight > 0
                || !response.downloads.is_empty(),
            more: response.more && !in_step,
            uploads_left: !self.wants.is_empty() || self.phase == Phase::OfferWanted,
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
