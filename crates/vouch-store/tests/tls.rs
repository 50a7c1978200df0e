//! TLS to PostgreSQL against a real server this test starts itself (`initdb` and `pg_ctl` from
//! the machine's PostgreSQL packages) with `ssl = on`, certificates from a CA made here, and
//! `hostssl` as the only way in over TCP. Where no PostgreSQL binaries are found the test skips
//! with a message, except under `CI=true`, where that is a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use vouch_store::postgres::{tls, PgOptions, PgStore};
use vouch_store::Store;

/// A CA: its certificate (PEM) and what signs with it.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A server certificate for `names`, signed by `ca`: (certificate PEM, key PEM).
fn server_cert(ca: &Ca, names: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pg_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("VOUCH_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

/// A PostgreSQL with TLS on a free port, stopped when dropped.
struct TlsPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl TlsPostgres {
    fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(program);
        let mut c = if self.as_postgres {
            // initdb refuses to run as root: the server runs as the packages' own user.
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        c.args(args).output().expect("run a PostgreSQL program")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start(cert_pem: &str, key_pem: &str) -> Option<TlsPostgres> {
        let ci = matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"));
        let Some(bin) = pg_bin() else {
            assert!(
                !ci,
                "CI=true and no PostgreSQL binaries (initdb) were found"
            );
            eprintln!(
                "skipped: no initdb found (set VOUCH_TEST_PG_BIN to PostgreSQL's bin folder)"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("vouch-tls-pg")
            .tempdir()
            .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        let pg = TlsPostgres {
            bin,
            dir,
            port,
            as_postgres: root,
        };
        let own = |p: &Path| {
            if root {
                let ok = Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(p)
                    .status()
                    .unwrap();
                assert!(ok.success());
            }
        };
        own(pg.dir.path());
        let data = pg.data();
        let out = pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(data.join("server.crt"), cert_pem).unwrap();
        std::fs::write(data.join("server.key"), key_pem).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        conf.push_str(&format!(
            "\nport = {port}\nlisten_addresses = 'localhost'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nfsync = off\n",
            pg.dir.path().display()
        ));
        std::fs::write(data.join("postgresql.conf"), conf).unwrap();
        // Over TCP, TLS or nothing.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        )
        .unwrap();
        own(pg.dir.path());
        let log = pg.dir.path().join("server.log");
        let out = pg.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Some(pg)
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
    }
}

/// Connects with vouch's TLS settings for `url`; answers whether the session is encrypted, or
/// the error's text.
async fn connect(url: &str, ca_file: Option<&Path>) -> Result<bool, String> {
    let t = tls::from_url(url, ca_file).map_err(|e| e.to_string())?;
    let (client, conn) = tokio_postgres::connect(&t.url, t.connector)
        .await
        .map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))?;
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get::<_, bool>(0))
}

#[tokio::test]
async fn tls_to_postgresql_by_sslmode_with_a_ca_of_our_own_and_a_wrong_one_refused() {
    let ours = ca("vouch test CA");
    let theirs = ca("some other CA");
    // The certificate names "localhost" only, not the address 127.0.0.1.
    let (cert, key) = server_cert(&ours, &["localhost"]);
    let Some(pg) = TlsPostgres::start(&cert, &key) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let our_ca = dir.path().join("ca.pem");
    std::fs::write(&our_ca, &ours.pem).unwrap();
    let their_ca = dir.path().join("other-ca.pem");
    std::fs::write(&their_ca, &theirs.pem).unwrap();

    // verify-full: the chain and the name; the CA from the URL or from the setting.
    let in_url = format!("sslmode=verify-full&sslrootcert={}", our_ca.display());
    assert_eq!(connect(&pg.url("localhost", &in_url), None).await, Ok(true));
    assert_eq!(
        connect(&pg.url("localhost", "sslmode=verify-full"), Some(&our_ca)).await,
        Ok(true)
    );
    // …refused where the certificate does not name the host,
    let wrong_name = connect(&pg.url("127.0.0.1", "sslmode=verify-full"), Some(&our_ca))
        .await
        .unwrap_err();
    assert!(
        wrong_name.to_lowercase().contains("certificate"),
        "{wrong_name}"
    );
    // which verify-ca does not compare,
    assert_eq!(
        connect(&pg.url("127.0.0.1", "sslmode=verify-ca"), Some(&our_ca)).await,
        Ok(true)
    );
    // and a certificate from a CA we do not trust is refused by both.
    for mode in ["verify-ca", "verify-full"] {
        let refused = connect(
            &pg.url("localhost", &format!("sslmode={mode}")),
            Some(&their_ca),
        )
        .await
        .unwrap_err();
        assert!(
            refused.to_lowercase().contains("certificate"),
            "{mode}: {refused}"
        );
    }
    // require and prefer encrypt without a CA; disable is refused by this server (hostssl).
    assert_eq!(
        connect(&pg.url("127.0.0.1", "sslmode=require"), None).await,
        Ok(true)
    );
    assert_eq!(connect(&pg.url("127.0.0.1", ""), None).await, Ok(true));
    assert!(connect(&pg.url("127.0.0.1", "sslmode=disable"), None)
        .await
        .is_err());

    // The store itself over verify-full: migrations, a write, a read.
    let store = PgStore::connect(&PgOptions {
        ca_file: Some(our_ca.clone()),
        pool_size: 2,
        ..PgOptions::new(pg.url("localhost", "sslmode=verify-full"))
    })
    .await
    .expect("the store over TLS");
    store.ping().await.unwrap();
    store.probe_write(chrono::Utc::now()).await.unwrap();
    let refused = PgStore::connect(&PgOptions {
        ca_file: Some(their_ca.clone()),
        pool_size: 2,
        acquire_timeout: std::time::Duration::from_secs(3),
        ..PgOptions::new(pg.url("localhost", "sslmode=verify-full"))
    })
    .await;
    assert!(refused.is_err(), "a store trusting the wrong CA connected");
}
