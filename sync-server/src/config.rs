//! Server settings: defaults, then a TOML file, then `SPRECHTAG_SERVER_*`
//! environment variables, then the command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Printed by `sprechtag-server config`.
pub const EXAMPLE: &str = r#"# sprechtag-server.toml
# Every setting can also come from the environment, e.g. SPRECHTAG_SERVER_LISTEN.

# Where the embedded SQLite database lives.
data_dir = "/var/lib/sprechtag"

# Address and port to listen on.
listen = "0.0.0.0:8443"

# TLS: give both to serve HTTPS (rustls); without them the server speaks
# plain HTTP, for a reverse proxy or a closed network only.
# tls_cert = "/etc/sprechtag/cert.pem"
# tls_key = "/etc/sprechtag/key.pem"

# Seconds a client may take to send a request's headers (and to start the
# next request on a kept-alive connection), and to send a sync body once
# its token was checked. Slower connections are closed.
header_timeout_secs = 20
body_timeout_secs = 120

# Open connections at most, in all and from one client address (laptops
# behind one NAT address share it). One more is closed at once; the laptop
# tries again later. Keep max_connections below the open-file limit
# (systemd: LimitNOFILE).
max_connections = 512
max_connections_per_address = 64
"#;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    #[serde(default = "default_header_timeout")]
    pub header_timeout_secs: u64,
    #[serde(default = "default_body_timeout")]
    pub body_timeout_secs: u64,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "default_max_connections_per_address")]
    pub max_connections_per_address: usize,
}

fn default_max_connections() -> usize {
    512
}

fn default_max_connections_per_address() -> usize {
    64
}

fn default_header_timeout() -> u64 {
    20
}

fn default_body_timeout() -> u64 {
    120
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("sprechtag-server-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_cert: None,
            tls_key: None,
            header_timeout_secs: default_header_timeout(),
            body_timeout_secs: default_body_timeout(),
            max_connections: default_max_connections(),
            max_connections_per_address: default_max_connections_per_address(),
        }
    }
}

impl Settings {
    /// Defaults, the file (if given), the environment; the caller applies
    /// command-line values last.
    pub fn load(file: Option<&std::path::Path>) -> Result<Settings, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed("SPRECHTAG_SERVER_"))
            .extract()
            .map_err(Box::new)
    }
}
