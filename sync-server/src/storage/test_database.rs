//! Throw-away PostgreSQL databases for tests and benchmarks, in the
//! cluster `SPRECHTAG_TEST_POSTGRES` names (`tests/postgres/cluster.sh`
//! starts one; `.ci/run` does so). Without it a test says it was skipped —
//! except under `CI`, where PostgreSQL must be tested.

/// The environment variable with the cluster's URL (its `postgres`
/// database).
pub const ENV: &str = "SPRECHTAG_TEST_POSTGRES";

/// A new, empty database; dropped (connections and all) with this value.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// `None` (after saying "skipped") without a cluster; a panic without
    /// one under `CI`.
    pub fn create() -> Option<TestDatabase> {
        let Ok(admin_url) = std::env::var(ENV) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{ENV} is not set: under CI the PostgreSQL tests must run (.ci/run starts a cluster)"
            );
            eprintln!("skipped: no PostgreSQL cluster ({ENV} is not set)");
            return None;
        };
        let name = format!("sprechtag_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {admin_url}: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("{ENV} must end in /DATABASE: {admin_url}"),
        };
        Some(TestDatabase {
            url,
            admin_url,
            name,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// The environment variables with the cluster's URL over TCP with TLS
/// required, and the PEM file of the CA that signed its certificate
/// (`cluster.sh` sets both).
pub const TLS_ENV: &str = "SPRECHTAG_TEST_POSTGRES_TLS";
pub const CA_ENV: &str = "SPRECHTAG_TEST_POSTGRES_CA";

impl TestDatabase {
    /// This database over TCP with TLS required, and the CA file; `None`
    /// where the cluster offers no TLS (a panic under `CI`).
    pub fn tls(&self) -> Option<(String, std::path::PathBuf)> {
        let (Ok(url), Some(ca)) = (std::env::var(TLS_ENV), std::env::var_os(CA_ENV)) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{TLS_ENV} or {CA_ENV} is not set: under CI the TLS tests must run"
            );
            eprintln!("skipped: the PostgreSQL cluster offers no TLS ({TLS_ENV} is not set)");
            return None;
        };
        let (base, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
        let (base, _) = base.rsplit_once('/')?;
        Some((format!("{base}/{}?{query}", self.name), ca.into()))
    }
}
