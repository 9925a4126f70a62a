//! # Authenticated links: the cluster's credentials
//!
//! On loopback every process trusts every other: only this machine's users can reach
//! them. Across hosts anyone who reaches a port could submit headers in a shard's
//! name, subscribe to its deliveries or inject faults. So a cluster that leaves
//! loopback runs **mutual TLS**: a certificate authority made for that cluster alone
//! signs one certificate per process, and every gRPC call — both ways — presents one.
//!
//! ```text
//!   shardsim (driver) ── generate ──► ca.pem            (the CA's key is thrown away:
//!                                     beacon.pem/.key    nobody can issue another)
//!                                     shard-1.validator-2.pem/.key
//!                                     driver.pem/.key
//!
//!   client ──TLS: its certificate──────────────► server: signed by the CA? which role?
//!          ◄──TLS: the server's certificate───── client: signed by the CA, and named
//!                                                 as the role it meant to call?
//! ```
//!
//! **A role is a name.** Each certificate carries one DNS name, `<role>.shardsim`:
//! `beacon.shardsim`, `validator-2.shard-1.shardsim` (a shard alone is its validator
//! 0), `driver.shardsim`. A client checks the server's name against the role it
//! meant to reach (the TLS host name, whatever address it dialled), and a server reads
//! the caller's role from the name ([`peer_role`]) — so a shard's identity comes from
//! its certificate, never from a field of its request. Keys are ECDSA P-256 and the
//! TLS stack is rustls with the *ring* provider, which builds with a C compiler and
//! nothing else.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The DNS suffix of every role's name.
pub const DOMAIN: &str = "shardsim";

/// Who a process is in its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The beacon.
    Beacon,
    /// Validator `index` of shard `shard` (a shard that proposes alone is its
    /// validator 0).
    Validator {
        /// The shard.
        shard: u32,
        /// The validator's index in the shard's committee.
        index: u32,
    },
    /// The scenario runner: it submits the load and injects the faults.
    Driver,
}

impl Role {
    /// The role's DNS name, which its certificate carries.
    pub fn dns_name(&self) -> String {
        match self {
            Role::Beacon => format!("beacon.{DOMAIN}"),
            Role::Validator { shard, index } => format!("validator-{index}.shard-{shard}.{DOMAIN}"),
            Role::Driver => format!("driver.{DOMAIN}"),
        }
    }

    /// The role a DNS name names, if any.
    pub fn from_dns_name(name: &str) -> Option<Role> {
        let name = name.strip_suffix(DOMAIN)?.strip_suffix('.')?;
        match name {
            "beacon" => Some(Role::Beacon),
            "driver" => Some(Role::Driver),
            _ => {
                let (v, s) = name.split_once('.')?;
                Some(Role::Validator {
                    index: v.strip_prefix("validator-")?.parse().ok()?,
                    shard: s.strip_prefix("shard-")?.parse().ok()?,
                })
            }
        }
    }

    /// The stem of the role's files (`beacon`, `shard-1.validator-2`, `driver`).
    pub fn file_stem(&self) -> String {
        match self {
            Role::Validator { shard, index } => format!("shard-{shard}.validator-{index}"),
            other => other.to_string(),
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    /// `beacon`, `driver`, `shard-K/validator-I`, or `shard-K` (a shard alone: its
    /// validator 0) — the cluster's process names.
    fn from_str(s: &str) -> Result<Role, String> {
        let bad = || format!("{s:?} is no role: write beacon, driver or shard-K/validator-I");
        match s {
            "beacon" => Ok(Role::Beacon),
            "driver" => Ok(Role::Driver),
            _ => {
                let rest = s.strip_prefix("shard-").ok_or_else(bad)?;
                let (k, i) = rest.split_once("/validator-").unwrap_or((rest, "0"));
                Ok(Role::Validator {
                    shard: k.parse().map_err(|_| bad())?,
                    index: i.parse().map_err(|_| bad())?,
                })
            }
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Beacon => f.write_str("beacon"),
            Role::Validator { shard, index } => write!(f, "shard-{shard}/validator-{index}"),
            Role::Driver => f.write_str("driver"),
        }
    }
}

/// What can go wrong with credentials.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A credentials file that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("generating the cluster's certificates: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The file of the CA certificate in a credentials folder.
pub const CA_FILE: &str = "ca.pem";

/// A process's credentials: the cluster's CA certificate, its own certificate and
/// key, and the role they name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The role the certificate names.
    pub role: Role,
    ca: String,
    cert: String,
    key: String,
}

fn read(path: PathBuf) -> Result<String, TlsError> {
    std::fs::read_to_string(&path).map_err(|source| TlsError::Io { path, source })
}

/// Writes `text` to `path`, readable by its owner only (a key).
pub fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
}

fn write(path: PathBuf, text: &str, secret: bool) -> Result<(), TlsError> {
    let written = if secret {
        write_secret(&path, text)
    } else {
        std::fs::write(&path, text)
    };
    written.map_err(|source| TlsError::Io { path, source })
}

impl Credentials {
    /// `role`'s credentials from the folder `dir` ([`generate`] wrote).
    pub fn load(dir: &Path, role: Role) -> Result<Credentials, TlsError> {
        let stem = role.file_stem();
        Ok(Credentials {
            role,
            ca: read(dir.join(CA_FILE))?,
            cert: read(dir.join(format!("{stem}.pem")))?,
            key: read(dir.join(format!("{stem}.key")))?,
        })
    }

    /// A server's TLS: this certificate, and a certificate of the cluster's CA required
    /// of every caller.
    pub fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert, &self.key))
            .client_ca_root(Certificate::from_pem(&self.ca))
    }

    /// A client's TLS towards `server`: the server must present the CA's certificate
    /// for that role, and this one presents its own.
    pub fn client(&self, server: Role) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .identity(Identity::from_pem(&self.cert, &self.key))
            .domain_name(server.dns_name())
    }
}

/// Makes a cluster's credentials in `dir`: a new CA (whose key is not kept) and a
/// certificate and key for each of `roles`.
pub fn generate(dir: &Path, roles: &[Role]) -> Result<(), TlsError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "shardsim cluster CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    write(dir.join(CA_FILE), &ca_cert.pem(), false)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);
    for role in roles {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![role.dns_name()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, role.to_string());
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &issuer)?;
        let stem = role.file_stem();
        write(dir.join(format!("{stem}.pem")), &cert.pem(), false)?;
        write(dir.join(format!("{stem}.key")), &key.serialize_pem(), true)?;
    }
    Ok(())
}

/// An endpoint for calling `server` at `url`, with Nagle off, over mutual TLS when
/// `creds` are given (the URL's scheme must then be `https`).
pub fn endpoint(
    url: &str,
    creds: Option<&Credentials>,
    server: Role,
) -> Result<tonic::transport::Endpoint, tonic::transport::Error> {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_string())?.tcp_nodelay(true);
    match creds {
        Some(c) => endpoint.tls_config(c.client(server)),
        None => Ok(endpoint),
    }
}

/// The role of a request's caller, from the certificate it presented; `None` without
/// TLS or without a name of a role.
pub fn peer_role<T>(request: &tonic::Request<T>) -> Option<Role> {
    role_of(request.peer_certs()?.first()?.as_ref())
}

/// The role a certificate (DER) names in its DNS names, if any.
fn role_of(der: &[u8]) -> Option<Role> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|n| match n {
        x509_parser::extensions::GeneralName::DNSName(d) => Role::from_dns_name(d),
        _ => None,
    })
}

/// What a server with credentials requires of a caller: a certificate of the cluster
/// naming a role `allowed` accepts (`what` says who may, for the refusal). Without
/// credentials (`authenticated = false`: a loopback cluster) anyone may, and the role
/// is unknown.
pub fn require<T>(
    request: &tonic::Request<T>,
    authenticated: bool,
    allowed: impl Fn(Role) -> bool,
    what: &str,
) -> Result<Option<Role>, tonic::Status> {
    if !authenticated {
        return Ok(None);
    }
    match peer_role(request) {
        None => Err(tonic::Status::unauthenticated(
            "this cluster requires a certificate of its CA naming a role",
        )),
        Some(role) if allowed(role) => Ok(Some(role)),
        Some(role) => Err(tonic::Status::permission_denied(format!(
            "{role} may not: {what}"
        ))),
    }
}

/// Whether `listen` (`host:port`) binds loopback only, where a cluster may run
/// without credentials.
pub fn is_loopback(listen: &str) -> bool {
    match listen.parse::<SocketAddr>() {
        Ok(a) => a.ip().is_loopback(),
        Err(_) => listen.starts_with("localhost:"),
    }
}

/// The URL scheme of a cluster's links.
pub fn scheme(tls: bool) -> &'static str {
    if tls { "https" } else { "http" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_survives_its_name_and_nothing_else_is_one() {
        for role in [
            Role::Beacon,
            Role::Driver,
            Role::Validator { shard: 3, index: 0 },
            Role::Validator {
                shard: 15,
                index: 11,
            },
        ] {
            assert_eq!(Role::from_dns_name(&role.dns_name()), Some(role));
        }
        for role in [
            Role::Beacon,
            Role::Driver,
            Role::Validator { shard: 2, index: 3 },
        ] {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        assert_eq!(
            "shard-4".parse::<Role>(),
            Ok(Role::Validator { shard: 4, index: 0 })
        );
        for bad in ["shard-x", "validator-1", "shard-1/validator-", ""] {
            assert!(bad.parse::<Role>().is_err(), "{bad}");
        }
        for name in [
            "beacon",
            "beacon.example",
            "validator-1.shard-x.shardsim",
            "validator-1.shardsim",
            "shard-1.validator-1.shardsim",
            "xbeacon.shardsim",
        ] {
            assert_eq!(Role::from_dns_name(name), None, "{name}");
        }
    }

    #[test]
    fn each_generated_certificate_names_its_role_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let roles = [
            Role::Beacon,
            Role::Validator { shard: 1, index: 2 },
            Role::Driver,
        ];
        generate(dir.path(), &roles).unwrap();
        for role in roles {
            let c = Credentials::load(dir.path(), role).unwrap();
            let (_, pem) = x509_parser::pem::parse_x509_pem(c.cert.as_bytes()).unwrap();
            assert_eq!(role_of(&pem.contents), Some(role));
            let key = dir.path().join(format!("{}.key", role.file_stem()));
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "a key is its owner's alone");
        }
        assert!(
            Credentials::load(dir.path(), Role::Validator { shard: 0, index: 0 }).is_err(),
            "no certificate was made for it"
        );
    }

    #[test]
    fn only_loopback_runs_without_credentials() {
        assert!(is_loopback("127.0.0.1:0"));
        assert!(is_loopback("[::1]:7000"));
        assert!(is_loopback("localhost:7000"));
        assert!(!is_loopback("0.0.0.0:7000"));
        assert!(!is_loopback("10.1.2.3:7000"));
    }
}
