//! A service process's life: logging, the `READY` handshake, and stopping on Ctrl-C.
//!
//! ```text
//!  bind ──► print "READY <addr>" (the driver waits for that line) ──► serve
//!                                                                      │ Ctrl-C
//!                                                                      ▼
//!                                                             "interrupted, stopping"
//! ```

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

/// Logs to stderr at `info` unless `RUST_LOG` says otherwise.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Binds `listen` and announces the bound address on stdout as `READY <addr>`: the
/// line the driver waits for before it uses the process.
pub async fn bind_and_announce(listen: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    println!("READY {addr}");
    Ok((listener, addr))
}

/// Runs `serve` until it ends or Ctrl-C; `what` names the process in the error when
/// `serve` fails ("shard stopped", …).
pub async fn serve_until_interrupted<E>(
    serve: impl Future<Output = Result<(), E>>,
    what: &'static str,
) -> anyhow::Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let interrupted = async {
        // If installing the handler fails, run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = serve => r.context(what),
        () = interrupted => {
            tracing::info!("interrupted, stopping");
            Ok(())
        }
    }
}

/// The connections `listener` accepts, each with Nagle's algorithm off. A server fed
/// its own incoming stream does not set `TCP_NODELAY` itself, and without it the last
/// segment of a large message (a block proposal, a batch of deliveries) waits for the
/// peer's delayed ACK — 40 ms on Linux — on every link that carries one.
pub fn incoming(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|conn| {
        let conn = conn?;
        conn.set_nodelay(true)?;
        Ok(conn)
    })
}

/// The credentials a process listening on `listen` serves with: those in `dir` for
/// `role`, or none on loopback. Anything but loopback without credentials is refused:
/// a cluster reachable from other hosts must know who calls it.
pub fn credentials(
    listen: &str,
    dir: Option<&std::path::Path>,
    role: crate::tls::Role,
) -> anyhow::Result<Option<crate::tls::Credentials>> {
    match dir {
        Some(dir) => Ok(Some(
            crate::tls::Credentials::load(dir, role)
                .with_context(|| format!("loading {role}'s credentials"))?,
        )),
        None if crate::tls::is_loopback(listen) => Ok(None),
        None => anyhow::bail!(
            "listening on {listen} (not loopback) needs the cluster's credentials: pass --tls DIR"
        ),
    }
}
