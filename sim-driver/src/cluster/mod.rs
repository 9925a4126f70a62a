//! Starting and stopping a cluster of child processes on loopback.
//!
//! **Owns** the processes and the fault timeline. **May not** measure or judge: what a
//! fault did to throughput is `measure::recovery`'s.
//!
//! The driver re-executes its own binary in a hidden role (`shardsim __beacon …`,
//! `shardsim __shard …`), so one binary is all a newcomer needs. Each child binds port 0
//! on 127.0.0.1, prints `READY <addr>` on stdout, and logs to `<name>.log` in the run
//! folder.
//!
//! ```text
//!  driver ──spawn──► beacon   ── READY 127.0.0.1:p0
//!  driver ──spawn──► shard 0  (--beacon http://127.0.0.1:p0) ── READY 127.0.0.1:p1
//!  …                 shard n-1                                 ── READY 127.0.0.1:pn
//! ```
//!
//! **No orphans.** A child must not outlive the driver, however the driver ends:
//! - normal end, error or panic: [`Cluster`]'s `Drop` kills and reaps every child;
//! - SIGKILL of the driver (no destructor runs): each child asks the kernel, before it
//!   starts, to send it SIGKILL when its parent dies (`PR_SET_PDEATHSIG`);
//! - Ctrl-C in a terminal: the children are in their own process group, so the signal
//!   reaches only the driver, which then stops them in order.

pub mod attach;
pub mod faults;
pub mod hosts;
pub mod kit;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use shardsim_host::tls::{Credentials, Role};

use crate::scenario::HostKind;
pub use hosts::Hosts;
pub use kit::Kit;
use shardsim_proto::MAX_MESSAGE_BYTES;
use shardsim_proto::pb::shard_client::ShardClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::Channel;

use crate::scenario::{Scenario, Storage, Target};

/// Genesis balance of every account.
pub const INITIAL_BALANCE: u64 = 1_000_000_000;

/// How long a child may take to print its READY line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A shard's mempool holds four blocks' worth, or one largest batch if that is more.
/// Small enough that `rate = "max"` measures the cluster rather than a deep queue:
/// every queued transaction adds to latency, none adds to throughput.
pub(crate) fn mempool_capacity(max_block_txs: usize) -> usize {
    (4 * max_block_txs).max(shardsim_proto::MAX_BATCH_TXS)
}

/// One child process.
#[derive(Debug)]
pub struct Process {
    /// `"beacon"` or `"shard-<k>"`, also the log file's stem.
    pub name: String,
    /// The address it listens on.
    pub addr: String,
    /// Its log file.
    pub log: PathBuf,
    /// The process; killed on drop. `None`: a process of an attached cluster
    /// ([`attach`]), which this driver did not start and never signals.
    child: Option<Child>,
    /// The arguments it was started with (a restart reuses them).
    args: Vec<String>,
    /// Killed on purpose (a fault) and not started again yet.
    pub killed: bool,
    /// The network namespace it runs in (`network.hosts = "netns"`).
    netns: Option<PathBuf>,
}

/// What it takes to start a process again.
#[derive(Debug, Clone)]
pub struct Spec {
    name: String,
    args: Vec<String>,
    addr: String,
    run_dir: PathBuf,
    netns: Option<PathBuf>,
}

impl Spec {
    /// Empties the process's data directory (a restart on a new disk).
    pub fn wipe(&self) -> anyhow::Result<()> {
        if let Some(i) = self.args.iter().position(|a| a == "--data-dir")
            && let Some(dir) = self.args.get(i + 1)
            && Path::new(dir).exists()
        {
            std::fs::remove_dir_all(dir).with_context(|| format!("wiping {dir}"))?;
        }
        Ok(())
    }
}

/// How long a restarted shard process may take to open its store, install its
/// snapshot and replay the blocks after it before it serves.
pub const RESTART_PATIENCE: Duration = Duration::from_secs(300);

impl Process {
    /// Waits until this restarted shard process serves — it answers only once its store
    /// is replayed — for up to [`RESTART_PATIENCE`]; fails if it exits first.
    pub async fn serving(&mut self, tls: Option<&Credentials>) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + RESTART_PATIENCE;
        loop {
            let attempt = async {
                let mut client = shard_client(self, tls).await?;
                client
                    .status(shardsim_proto::pb::StatusRequest::default())
                    .await?;
                anyhow::Ok(())
            };
            if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(2), attempt).await {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "{} exited while restarting ({status}); last lines of {}:\n{}",
                    self.name,
                    self.log.display(),
                    log_tail(&self.log)
                );
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "{} did not serve within {} of its restart (replaying its store)",
                    self.name,
                    humantime::format_duration(RESTART_PATIENCE)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How to start this process again.
    pub fn spec(&self) -> Spec {
        Spec {
            name: self.name.clone(),
            args: self.args.clone(),
            addr: self.addr.clone(),
            run_dir: self.log.parent().map(Path::to_path_buf).unwrap_or_default(),
            netns: self.netns.clone(),
        }
    }

    /// The child's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// A process of an attached cluster, at `addr`.
    fn attached(name: &str, addr: &str) -> Process {
        Process {
            name: name.to_string(),
            addr: addr.to_string(),
            log: PathBuf::new(),
            child: None,
            args: Vec::new(),
            killed: false,
            netns: None,
        }
    }

    /// CPU time (user + system) the process has used so far, if it still runs.
    pub fn cpu_seconds(&self) -> Option<f64> {
        self.pid().and_then(cpu_seconds)
    }
}

/// CPU time (user + system, seconds) used by process `pid`, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (in parentheses, which may contain spaces):
    // state is the 1st, utime the 12th, stime the 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks_per_second())
}

/// The kernel's clock ticks per second for `/proc` times.
#[allow(unsafe_code)]
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant; it has no pointer arguments.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// A running beacon and its shards.
#[derive(Debug)]
pub struct Cluster {
    /// The beacon process.
    pub beacon: Process,
    /// The shard processes — with committees, every validator — by slot: validator
    /// `v` of shard `k` at `k · validators + v` (a shard alone at `k`).
    pub shards: Vec<Process>,
    /// Validators per shard (1: each shard proposes alone).
    pub validators: u32,
    /// The run's validator secret keys, one file per shard: needed while the cluster
    /// runs (a restarted shard reads its key again), removed when it stops. `None`
    /// for an attached cluster.
    keys: Option<PathBuf>,
    /// With `cluster.tls` (or hosts of their own), the driver's credentials for
    /// calling the processes.
    pub tls: Option<Credentials>,
    /// With `network.hosts = "netns"`, the hosts the processes run on; dropped after
    /// them (fields drop after `Drop::drop` has killed the processes).
    pub hosts: Option<Hosts>,
}

impl Cluster {
    /// Starts the beacon, then every shard, and waits until all are ready.
    /// `placement_file`, when given, is the genesis placement table every validator
    /// loads (`--placement`).
    pub async fn start(
        scenario: &Scenario,
        run_dir: &Path,
        placement_file: Option<PathBuf>,
    ) -> anyhow::Result<Cluster> {
        let exe =
            std::env::current_exe().context("locating the shardsim binary to start the cluster")?;
        let c = &scenario.cluster;
        let n = c.validators;
        // network.hosts = "netns": a host per process, the beacon on host 0 and
        // validator slot s on host s + 1, each listening on its host's address (so
        // over mutual TLS).
        let hosts = match scenario.network.hosts {
            HostKind::Loopback => None,
            HostKind::Netns => Some(
                Hosts::create(1 + (c.shards * n) as usize, scenario.network.bandwidth)
                    .context("making the hosts (network.hosts = \"netns\")")?,
            ),
        };
        let on_host = |i: usize| -> (Vec<String>, Option<PathBuf>) {
            match &hosts {
                Some(h) => (
                    vec!["--listen".into(), format!("{}:0", Hosts::addr(i))],
                    Some(h.path(i)),
                ),
                None => (Vec::new(), None),
            }
        };
        // The run's keys (and with `cluster.tls`, or hosts of their own, a CA for this
        // cluster alone and a certificate per process) in keys/, removed when the
        // cluster stops.
        let use_tls = c.tls || hosts.is_some();
        let keys_dir = run_dir.join("keys");
        let mut kit = Kit::write(scenario, &keys_dir, use_tls)?;
        kit.placement_file = placement_file;
        let tls = kit
            .tls_dir
            .as_deref()
            .map(|d| Credentials::load(d, Role::Driver))
            .transpose()?;
        let scheme = shardsim_host::tls::scheme(use_tls);
        // With storage on disk, each process keeps its chain in data/<name>/.
        let data_dir = |name: &str| -> Vec<String> {
            match c.storage {
                Storage::Disk => vec![
                    "--data-dir".into(),
                    run_dir
                        .join("data")
                        .join(file_stem(name))
                        .display()
                        .to_string(),
                ],
                Storage::Memory => Vec::new(),
            }
        };
        let mut beacon_args = kit.beacon_args(scenario);
        beacon_args.extend(data_dir("beacon"));
        let (listen, netns) = on_host(0);
        beacon_args.extend(listen);
        let beacon = spawn(&exe, "beacon", &beacon_args, run_dir, netns.as_deref()).await?;
        let beacon_url = format!("{scheme}://{}", beacon.addr);
        let mut shards: Vec<Process> = Vec::with_capacity((c.shards * n) as usize);
        for slot in 0..c.shards * n {
            let (shard, v) = (slot / n, slot % n);
            let peers: Vec<String> = shards[(shard * n) as usize..]
                .iter()
                .map(|p| format!("{scheme}://{}", p.addr))
                .collect();
            let mut args = kit.shard_args(scenario, slot, &beacon_url, &peers);
            let name = process_name(shard, v, n);
            args.extend(data_dir(&name));
            let (listen, netns) = on_host(slot as usize + 1);
            args.extend(listen);
            shards.push(spawn(&exe, &name, &args, run_dir, netns.as_deref()).await?);
        }
        Ok(Cluster {
            beacon,
            shards,
            validators: n,
            keys: Some(keys_dir),
            tls,
            hosts,
        })
    }

    /// Every process, beacon first.
    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        std::iter::once(&self.beacon).chain(&self.shards)
    }

    /// The process a fault targets.
    pub fn process(&mut self, target: Target) -> &mut Process {
        match target {
            Target::Beacon => &mut self.beacon,
            Target::Shard(k) => &mut self.shards[k as usize],
            Target::Validator(k, v) => &mut self.shards[(k * self.validators + v) as usize],
        }
    }

    /// The target at shard-process slot `slot`.
    pub fn target(&self, slot: usize) -> Target {
        let n = self.validators;
        let slot = slot as u32;
        if n == 1 {
            Target::Shard(slot)
        } else {
            Target::Validator(slot / n, slot % n)
        }
    }

    /// Kills `target` with SIGKILL (a fault) and reaps it. Only our own child, by its
    /// pid.
    pub async fn kill(&mut self, target: Target) -> anyhow::Result<()> {
        let p = self.process(target);
        p.killed = true;
        p.child
            .as_mut()
            .with_context(|| format!("{} was not started by this driver", p.name))?
            .kill()
            .await
            .with_context(|| format!("killing {}", p.name))
    }

    /// Freezes `target` with SIGSTOP (a grey-failure fault): it keeps its sockets and
    /// answers nothing. Only our own child, by its pid; SIGKILL at the end still ends
    /// it.
    pub fn freeze(&mut self, target: Target) -> anyhow::Result<()> {
        self.signal(target, libc::SIGSTOP, "freezing")
    }

    /// Lets a frozen `target` go on (SIGCONT). Only our own child, by its pid.
    pub fn thaw(&mut self, target: Target) -> anyhow::Result<()> {
        self.signal(target, libc::SIGCONT, "thawing")
    }

    /// Sends `signal` to our child `target` (`doing`: for the error).
    #[allow(unsafe_code)]
    fn signal(&mut self, target: Target, signal: libc::c_int, doing: &str) -> anyhow::Result<()> {
        let p = self.process(target);
        let pid = p
            .pid()
            .with_context(|| format!("{} has no pid to signal", p.name))?;
        let pid = libc::pid_t::try_from(pid).context("pid out of range")?;
        // SAFETY: kill(2) with a pid of a child we started and have not reaped.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("{doing} {}", p.name));
        }
        Ok(())
    }

    /// Starts a process again from its [`Process::spec`]; the beacon and a validator
    /// on the same address (the shards, and the validators that call it, know it by
    /// that), a shard alone on a new port. The caller puts the result in place of the
    /// killed process.
    pub async fn restart(spec: Spec) -> anyhow::Result<Process> {
        let exe = std::env::current_exe().context("locating the shardsim binary")?;
        let mut args = spec.args;
        let keeps_address = spec.name == "beacon" || spec.name.contains("/validator-");
        if keeps_address {
            // Its own address again (in place of the host's port 0, or of the address
            // an earlier restart gave).
            if let Some(i) = args.iter().position(|a| a == "--listen") {
                args.drain(i..(i + 2).min(args.len()));
            }
            args.extend(["--listen".into(), spec.addr]);
        }
        spawn(
            &exe,
            &spec.name,
            &args,
            &spec.run_dir,
            spec.netns.as_deref(),
        )
        .await
    }

    /// `target` exited and the run rides it out (a committee member within f): it is
    /// no longer looked at by [`Cluster::dead`].
    pub fn written_off(&mut self, target: Target) {
        self.process(target).killed = true;
    }

    /// Fails with the process's name and the end of its log if any child has exited
    /// (other than one killed on purpose).
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.dead()? {
            Some((_, why)) => Err(why),
            None => Ok(()),
        }
    }

    /// The first child that has exited (other than one killed on purpose), with its
    /// name and the end of its log.
    pub fn dead(&mut self) -> anyhow::Result<Option<(Target, anyhow::Error)>> {
        let targets: Vec<Target> = (0..self.shards.len()).map(|s| self.target(s)).collect();
        let beacon = std::iter::once((Target::Beacon, &mut self.beacon));
        let shards = targets.into_iter().zip(self.shards.iter_mut());
        for (target, p) in beacon.chain(shards).filter(|(_, p)| !p.killed) {
            let Some(child) = p.child.as_mut() else {
                continue;
            };
            if let Some(status) = child.try_wait()? {
                let why = anyhow::anyhow!(
                    "{} exited unexpectedly ({status}); last lines of {}:\n{}",
                    p.name,
                    p.log.display(),
                    log_tail(&p.log)
                );
                return Ok(Some((target, why)));
            }
        }
        Ok(None)
    }

    /// A failure is best explained by a process that died, if one did. A dead peer's
    /// broken connection can be noticed a moment before its exit can be collected, so
    /// this looks for up to a second.
    pub async fn explain(&mut self, error: anyhow::Error) -> anyhow::Error {
        for _ in 0..20 {
            if let Err(dead) = self.check_alive() {
                return dead.context(format!("{error:#}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        error
    }

    /// Stops every child and waits for it.
    pub async fn stop(mut self) {
        for p in self
            .shards
            .iter_mut()
            .chain(std::iter::once(&mut self.beacon))
        {
            if let Some(child) = p.child.as_mut() {
                let _ = child.kill().await;
            }
        }
        if let Some(keys) = &self.keys {
            let _ = std::fs::remove_dir_all(keys);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in std::iter::once(&mut self.beacon).chain(self.shards.iter_mut()) {
            // start_kill sends SIGKILL; the wait reaps it so no zombie is left.
            if let Some(child) = p.child.as_mut()
                && child.start_kill().is_ok()
            {
                let _ = child.try_wait();
            }
        }
        if let Some(keys) = &self.keys {
            let _ = std::fs::remove_dir_all(keys);
        }
    }
}

/// The name of shard `shard`'s process `v` of `n`: `shard-1`, or `shard-1/validator-2`.
pub(crate) fn process_name(shard: u32, v: u32, n: u32) -> String {
    if n == 1 {
        format!("shard-{shard}")
    } else {
        format!("shard-{shard}/validator-{v}")
    }
}

/// A process name as a file name: `shard-1/validator-2` → `shard-1.validator-2`.
fn file_stem(name: &str) -> String {
    name.replace('/', ".")
}

/// Starts `exe args…` with stdout piped (for READY) and stderr in
/// `<run_dir>/<name>.log` (`/` in the name as `.`).
async fn spawn(
    exe: &Path,
    name: &str,
    args: &[String],
    run_dir: &Path,
    netns: Option<&Path>,
) -> anyhow::Result<Process> {
    let log = run_dir.join(format!("{}.log", file_stem(name)));
    // A restarted process writes on after its predecessor.
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("opening {}", log.display()))?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true);
    die_with_parent(&mut cmd);
    // Open here, entered in the child before exec; closed (here) once it runs.
    let ns = netns
        .map(|p| std::fs::File::open(p).with_context(|| format!("opening {}", p.display())))
        .transpose()?;
    if let Some(ns) = &ns {
        enter_netns(&mut cmd, ns);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {name} ({})", exe.display()))?;
    let stdout = child.stdout.take().context("child stdout is piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(READY_TIMEOUT, lines.next_line()).await;
    let addr = match ready {
        Ok(Ok(Some(line))) if line.starts_with("READY ") => {
            line["READY ".len()..].trim().to_string()
        }
        outcome => {
            let _ = child.kill().await;
            let why = match outcome {
                Err(_) => format!("did not report ready within {READY_TIMEOUT:?}"),
                Ok(Ok(Some(line))) => format!("printed {line:?} instead of READY"),
                Ok(Ok(None)) => "exited before it was ready".to_string(),
                Ok(Err(e)) => format!("could not be read: {e}"),
            };
            bail!(
                "{name} {why}; last lines of {}:\n{}",
                log.display(),
                log_tail(&log)
            );
        }
    };
    Ok(Process {
        name: name.to_string(),
        addr,
        log,
        child: Some(child),
        args: args.to_vec(),
        killed: false,
        netns: netns.map(Path::to_path_buf),
    })
}

/// Makes the child enter the network namespace `ns` before it runs.
#[allow(unsafe_code)]
fn enter_netns(cmd: &mut Command, ns: &std::fs::File) {
    use std::os::fd::AsRawFd;
    let fd = ns.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec and calls only setns(2),
    // async-signal-safe, on a descriptor the parent holds open until the spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Makes the child die with the driver and keeps it out of the terminal's Ctrl-C.
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (prctl, getppid, setpgid, _exit), touching no memory
    // shared with the parent's other threads.
    unsafe {
        cmd.pre_exec(move || {
            // The death signal is tied to the thread that forked; the driver spawns from
            // its main thread, which lives as long as the driver.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody will signal us.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            libc::setpgid(0, 0);
            Ok(())
        });
    }
}

/// The last 20 lines of a log file, or a note that there is none.
pub fn log_tail(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(20)..];
            if tail.is_empty() {
                "  (empty)".into()
            } else {
                tail.iter()
                    .map(|l| format!("  {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        Err(e) => format!("  (unreadable: {e})"),
    }
}

/// The role the process named `name` (`beacon`, `shard-k`, `shard-k/validator-i`) has
/// in the cluster's certificates (a shard alone is its validator 0).
pub fn role_of(name: &str) -> Role {
    name.parse().unwrap_or(Role::Beacon)
}

/// A gRPC channel to the cluster process `p`, over mutual TLS with the driver's
/// credentials `tls` when the cluster has them.
pub async fn channel(p: &Process, tls: Option<&Credentials>) -> anyhow::Result<Channel> {
    let url = format!("{}://{}", shardsim_host::tls::scheme(tls.is_some()), p.addr);
    shardsim_host::tls::endpoint(&url, tls, role_of(&p.name))?
        .connect()
        .await
        .with_context(|| format!("connecting to {} at {}", p.name, p.addr))
}

/// A client of the shard process `p`, with the cluster's message-size limits.
pub async fn shard_client(
    p: &Process,
    tls: Option<&Credentials>,
) -> anyhow::Result<ShardClient<Channel>> {
    Ok(ShardClient::new(channel(p, tls).await?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// Writes a secret to `path`, readable by its owner only.
fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    shardsim_host::tls::write_secret(path, secret)
        .with_context(|| format!("writing {}", path.display()))
}
