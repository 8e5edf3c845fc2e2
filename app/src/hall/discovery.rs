//! Finding the other laptops in the hall: DNS-SD over multicast DNS
//! (`_sprechtag._tcp`, the `mdns-sd` crate), on whatever network the hall
//! has — Wi-Fi, a phone's hotspot, a cable.
//!
//! What a laptop announces is visible to everyone on that network: its
//! device id, its name (as the administrator gave it at enrolment) and its
//! department — never its user or anything of a case. Announcements prove
//! nothing; who is at an address is checked by the exchange itself
//! (the hello, `super::check`), so a false announcement leads to a
//! refused connection.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};

use super::SERVICE_TYPE;

/// Environment variable for another mDNS port than 5353 (machines where
/// another responder holds 5353 exclusively).
pub const MDNS_PORT_ENV: &str = "SPRECHTAG_MDNS_PORT";

/// The most laptops listed: a hall has a handful.
const MAX_FOUND: usize = 64;

/// The port set by [`use_port`]; 0 until then.
static PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// Announce and browse on `port` from now on in this process (tests use a
/// port of their own, so that other processes do not answer).
pub fn use_port(port: u16) {
    PORT.store(port, std::sync::atomic::Ordering::SeqCst);
}

fn port() -> u16 {
    match PORT.load(std::sync::atomic::Ordering::SeqCst) {
        0 => std::env::var(MDNS_PORT_ENV)
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(mdns_sd::MDNS_PORT),
        port => port,
    }
}

/// A laptop that announced itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub device_id: String,
    pub name: String,
    pub department: String,
    pub address: SocketAddr,
}

/// Announces this laptop and lists the others.
pub struct Discovery {
    daemon: ServiceDaemon,
    events: mdns_sd::Receiver<ServiceEvent>,
    announced_as: Option<String>,
    /// By full service name.
    found: HashMap<String, Announced>,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("announced_as", &self.announced_as)
            .field("found", &self.found.len())
            .finish_non_exhaustive()
    }
}

impl Discovery {
    /// Starts listening for announcements.
    pub fn start() -> Result<Discovery, String> {
        let daemon = ServiceDaemon::new_with_port(port()).map_err(|e| e.to_string())?;
        let events = daemon.browse(SERVICE_TYPE).map_err(|e| e.to_string())?;
        Ok(Discovery {
            daemon,
            events,
            announced_as: None,
            found: HashMap::new(),
        })
    }

    /// Announces this laptop as reachable at `port` on every address of
    /// this machine.
    pub fn announce(
        &mut self,
        device_id: &str,
        name: &str,
        department: &str,
        port: u16,
    ) -> Result<(), String> {
        let host = format!("sprechtag-{device_id}.local.");
        let properties = [("id", device_id), ("name", name), ("dept", department)];
        let info = ServiceInfo::new(SERVICE_TYPE, device_id, &host, "", port, &properties[..])
            .map_err(|e| e.to_string())?
            .enable_addr_auto();
        let fullname = info.get_fullname().to_string();
        self.daemon.register(info).map_err(|e| e.to_string())?;
        self.announced_as = Some(fullname);
        Ok(())
    }

    /// Stops announcing this laptop.
    pub fn withdraw(&mut self) {
        if let Some(fullname) = self.announced_as.take() {
            let _ = self.daemon.unregister(&fullname);
        }
    }

    /// Takes what arrived; whether the list changed.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        while let Ok(event) = self.events.try_recv() {
            match event {
                ServiceEvent::ServiceResolved(service) => {
                    let property = |key: &str| {
                        service
                            .txt_properties
                            .get_property_val_str(key)
                            .unwrap_or_default()
                            .to_string()
                    };
                    // An IPv4 address if there is one: link-local IPv6
                    // needs a scope a socket address here does not keep.
                    let mut addresses: Vec<IpAddr> =
                        service.addresses.iter().map(|a| a.to_ip_addr()).collect();
                    addresses.sort_by_key(|a| (!a.is_ipv4(), a.is_loopback()));
                    let Some(ip) = addresses.first() else {
                        continue;
                    };
                    let announced = Announced {
                        device_id: property("id"),
                        name: property("name"),
                        department: property("dept"),
                        address: SocketAddr::new(*ip, service.port),
                    };
                    if announced.device_id.is_empty() {
                        continue;
                    }
                    // Anyone can announce: the list stays a hall's size.
                    if self.found.len() >= MAX_FOUND && !self.found.contains_key(&service.fullname)
                    {
                        continue;
                    }
                    changed |= self.found.get(&service.fullname) != Some(&announced);
                    self.found.insert(service.fullname.clone(), announced);
                }
                ServiceEvent::ServiceRemoved(_, fullname) => {
                    changed |= self.found.remove(&fullname).is_some();
                }
                _ => {}
            }
        }
        changed
    }

    /// The laptops announced now, but not this one (`own_id`), by name.
    pub fn peers(&self, own_id: &str) -> Vec<Announced> {
        let mut peers: Vec<Announced> = self
            .found
            .values()
            .filter(|a| a.device_id != own_id)
            .cloned()
            .collect();
        peers.sort_by(|a, b| a.name.cmp(&b.name).then(a.device_id.cmp(&b.device_id)));
        peers.dedup_by(|a, b| a.device_id == b.device_id);
        peers
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        self.withdraw();
        let _ = self.daemon.shutdown();
    }
}
