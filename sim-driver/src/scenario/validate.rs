//! The checks a scenario passes before any process starts: values against each
//! other, faults against the timeline, and shards that would hold no account.

use std::time::Duration;

use super::*;

/// Longest `name`: it becomes a folder name, and is printed in every summary.
pub(super) const MAX_NAME_LEN: usize = 100;

impl Scenario {
    /// The source's own table is there, and only its own; the generator's knobs hold.
    fn check_traffic(&self) -> Result<(), String> {
        let w = &self.workload;
        match (w.source, &w.trace) {
            (Source::Trace, None) => {
                return Err(
                    "workload.source = \"trace\" needs [workload.trace] with a path".into(),
                );
            }
            (Source::Synthetic | Source::EthereumLike, Some(_)) => {
                return Err(
                    "[workload.trace] is given but workload.source is not \"trace\"".into(),
                );
            }
            _ => {}
        }
        if w.source == Source::EthereumLike {
            w.ethereum_like.check(w.accounts)?;
        }
        Ok(())
    }

    /// What each driver runs: a process cluster up to [`MAX_PROCESS_SHARDS`]; a virtual
    /// one up to [`MAX_VIRTUAL_SHARDS`], with what the simulator does not model yet
    /// refused by name.
    fn check_mode(&self) -> Result<(), String> {
        let c = &self.cluster;
        if c.mode == Mode::Process {
            if !self.simulation.is_default() {
                return Err(
                    "[virtual] says how a virtual run simulates: it needs cluster.mode = \"virtual\" (or --virtual)".into(),
                );
            }
            if c.shards > MAX_PROCESS_SHARDS {
                return Err(format!(
                    "cluster.shards = {} is more shard processes than one machine can run honestly (at most {MAX_PROCESS_SHARDS}); run it in virtual time (cluster.mode = \"virtual\", or --virtual), which takes up to {MAX_VIRTUAL_SHARDS}",
                    c.shards
                ));
            }
            return Ok(());
        }
        let unmodelled = [
            (!self.faults.is_empty(), "[[faults]]"),
            (
                c.tls,
                "cluster.tls (virtual links carry no bytes to encrypt)",
            ),
            (
                self.network.hosts == HostKind::Netns,
                "network.hosts = \"netns\" (virtual nodes have no hosts)",
            ),
            (
                self.placement.strategy == StrategyKind::Clpa,
                "placement.strategy = \"clpa\" (accounts moving between running shards)",
            ),
        ];
        match unmodelled.iter().find(|(on, _)| *on) {
            Some((_, what)) => Err(format!(
                "cluster.mode = \"virtual\" does not run {what} yet: run this scenario with cluster.mode = \"process\""
            )),
            None => Ok(()),
        }
    }

    pub(super) fn check(&self, origin: &str) -> Result<(), ScenarioError> {
        let fail = |message: String| {
            Err(ScenarioError::Inconsistent {
                path: origin.to_string(),
                message,
            })
        };
        if self.name.len() > MAX_NAME_LEN {
            return fail(format!(
                "name is {} characters long; it names a folder and may have at most {MAX_NAME_LEN}",
                self.name.len()
            ));
        }
        // A plain path component: `..` or `.` would put results outside `--out`, and a
        // leading dot would hide them.
        if self.name.is_empty()
            || self.name.starts_with('.')
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return fail(format!(
                "name {:?} must be non-empty, must not start with '.', and may use only letters, digits, '-', '_' and '.' (it names a folder)",
                self.name
            ));
        }
        if self.duration.is_zero() {
            return fail("duration must be above 0".into());
        }
        if let Err(message) = self.check_traffic() {
            return fail(message);
        }
        if let Err(message) = self.check_mode() {
            return fail(message);
        }
        let min_accounts = 2 * u64::from(self.cluster.shards);
        if self.workload.accounts < min_accounts || self.workload.accounts > 100_000_000 {
            return fail(format!(
                "workload.accounts = {} must be between 2 per shard ({min_accounts} for cluster.shards = {}) and 100000000",
                self.workload.accounts, self.cluster.shards
            ));
        }
        if let Some(empty) = empty_shard(self.cluster.shards, self.workload.accounts) {
            return fail(format!(
                "workload.accounts = {} leaves shard {empty} of {} without an account (accounts are placed by hash): use more accounts",
                self.workload.accounts, self.cluster.shards
            ));
        }
        let hot = &self.workload.hot;
        if hot.accounts == 0 || hot.accounts > self.workload.accounts {
            return fail(format!(
                "workload.hot.accounts = {} must be between 1 and workload.accounts ({})",
                hot.accounts, self.workload.accounts
            ));
        }
        let w = &self.workload;
        if hot.objects == 0 {
            return fail("workload.hot.objects must be at least 1".into());
        }
        let mix = &w.mix;
        if mix.weights().iter().sum::<f64>() <= 0.0 {
            return fail("workload.mix needs at least one program with a weight above 0".into());
        }
        if mix.token > 0.0 && w.tokens == 0 {
            return fail(
                "workload.mix.token > 0 needs workload.tokens ≥ 1 (tokens to transfer)".into(),
            );
        }
        if mix.swap > 0.0 && (w.tokens == 0 || w.pools == 0) {
            return fail(
                "workload.mix.swap > 0 needs workload.tokens ≥ 1 and workload.pools ≥ 1 (each pool trades the native coin against a token)".into(),
            );
        }
        if mix.nft > 0.0 && w.collections == 0 {
            return fail("workload.mix.nft > 0 needs workload.collections ≥ 1".into());
        }
        if mix.vote > 0.0 && w.proposals == 0 {
            return fail("workload.mix.vote > 0 needs workload.proposals ≥ 1".into());
        }
        if !(1..=1000).contains(&self.cluster.deadline) {
            return fail(format!(
                "cluster.deadline = {} must be 1 to 1000 beacon blocks",
                self.cluster.deadline
            ));
        }
        if self.cluster.snapshot_every > 1_000_000 {
            return fail(format!(
                "cluster.snapshot_every = {} must be at most 1000000 blocks (0: no snapshots)",
                self.cluster.snapshot_every
            ));
        }
        if self.cluster.vm == VmKind::Evm {
            let refused = if self.cluster.byzantine_shard.is_some() {
                Some("a byzantine_shard (its faults are written for the native programs)")
            } else {
                None
            };
            if let Some(what) = refused {
                return fail(format!("cluster.vm = \"evm\" does not run with {what}"));
            }
        }
        if let Some(gas) = self.cluster.max_block_gas {
            // A stand-in call of real traffic burns its trace's gas: the most one may.
            let standin = match (&self.workload.source, &self.workload.trace) {
                (Source::Trace, Some(t)) => t.gas_cap,
                (Source::EthereumLike, _) => CREATE_GAS,
                _ => 0,
            };
            let least =
                shard_node::vm::exec::MAX_CALL_GAS.max(shard_node::vm::exec::standin_gas(standin));
            if self.cluster.vm != VmKind::Evm || gas < least {
                return fail(format!(
                    "cluster.max_block_gas = {gas} needs cluster.vm = \"evm\" and at least {least} (the largest call's gas limit)"
                ));
            }
        }
        if let Some(b) = self.cluster.byzantine_shard {
            if b >= self.cluster.shards || self.cluster.shards < 2 {
                return fail(format!(
                    "cluster.byzantine_shard = {b} must name one of 2 or more shards (0..{})",
                    self.cluster.shards
                ));
            }
        }
        let n = self.cluster.validators;
        if !(1..=16).contains(&n) {
            return fail(format!("cluster.validators = {n} must be 1 to 16"));
        }
        if n > 1 {
            let refused = if self.cluster.protocol == Protocol::TwoPhase {
                Some("cluster.protocol = \"two-phase\"")
            } else if self.cluster.byzantine_shard.is_some() {
                Some(
                    "a byzantine_shard (a committee's Byzantine member is cluster.byzantine_validator)",
                )
            } else {
                None
            };
            if let Some(what) = refused {
                return fail(format!(
                    "cluster.validators = {n} (committees) does not run with {what}"
                ));
            }
        }
        if let Some(b) = &self.cluster.byzantine_validator {
            if b.shard >= self.cluster.shards || b.validator >= n || n < 4 {
                return fail(format!(
                    "cluster.byzantine_validator = shard {}, validator {} must name a validator of a committee of 4 or more (shards 0..{}, validators 0..{n}): a smaller committee tolerates no fault",
                    b.shard, b.validator, self.cluster.shards
                ));
            }
            match b.behaviour.parse::<consensus::Behaviour>() {
                Err(e) => return fail(format!("cluster.byzantine_validator.behaviour: {e}")),
                Ok(consensus::Behaviour::Honest) => {
                    return fail(
                        "cluster.byzantine_validator.behaviour = \"honest\" is no Byzantine behaviour".into(),
                    );
                }
                Ok(consensus::Behaviour::ForgeReceipts)
                    if self.cluster.shards < 2 || self.workload.cross_shard == 0.0 =>
                {
                    return fail(
                        "cluster.byzantine_validator.behaviour = \"forge-receipts\" forges the receipts it proposes, and this scenario has none: it needs cluster.shards ≥ 2 and workload.cross_shard > 0".into(),
                    );
                }
                Ok(_) => {}
            }
        }
        if self.cluster.signatures && self.workload.rate == Rate::Max {
            return fail(
                "cluster.signatures = true needs a numeric workload.rate: the driver signs every transaction before the load starts, so it must know how many".into(),
            );
        }
        let limit = Duration::from_secs(10);
        if self.network.bandwidth.is_some() && self.network.hosts != HostKind::Netns {
            return fail(
                "network.bandwidth is the kernel's, on hosts of their own: it needs network.hosts = \"netns\"".into(),
            );
        }
        if self.network.latency > limit || self.network.jitter > limit {
            return fail("network.latency and network.jitter must be at most 10s".into());
        }
        let total = self.warmup + self.duration;
        let mut last_end = None;
        for (i, p) in self.phases.iter().enumerate() {
            let n = i + 1;
            if self.workload.rate == Rate::Max {
                return fail(format!(
                    "phases need a numeric workload.rate to start from, not \"max\" (phase {n})"
                ));
            }
            if p.at >= total {
                return fail(format!(
                    "phase {n} starts at {} but the run ends at {} (warmup + duration)",
                    humantime::format_duration(p.at),
                    humantime::format_duration(total)
                ));
            }
            if last_end.is_some_and(|end| p.at < end) {
                return fail(format!(
                    "phase {n} starts before phase {} has finished (phases must be in time order and not overlap)",
                    n - 1
                ));
            }
            last_end = Some(p.at + p.ramp);
        }
        for (i, f) in self.faults.iter().enumerate() {
            self.check_fault(i + 1, f, total).or_else(fail)?;
        }
        Ok(())
    }

    fn check_fault(&self, n: usize, f: &Fault, total: Duration) -> Result<(), String> {
        if self.cluster.protocol == Protocol::TwoPhase && f.drop > 0.0 {
            return Err(format!(
                "fault {n}: drop needs cluster.protocol = \"receipts\": under two-phase a beacon block lost on the way would leave its decisions unread (kill, freeze, delay and duplicate work with two-phase)"
            ));
        }
        if f.at >= total {
            return Err(format!(
                "fault {n} starts at {} but the run ends at {} (warmup + duration)",
                humantime::format_duration(f.at),
                humantime::format_duration(total)
            ));
        }
        let (shards, validators) = (self.cluster.shards, self.cluster.validators);
        let shard_ok = |t: &Target| match t {
            Target::Shard(k) => *k < shards && validators == 1,
            Target::Validator(k, v) => *k < shards && *v < validators && validators > 1,
            Target::Beacon => true,
        };
        let name_them = if validators > 1 {
            format!(
                "shards 0..{shards} of {validators} validators each: name one as \"shard-<k>/validator-<i>\""
            )
        } else {
            format!("shards 0..{shards}")
        };
        let link_settings =
            f.delay > Duration::ZERO || f.drop > 0.0 || f.duplicate > 0.0 || !f.duration.is_zero();
        if f.wipe && f.kill.is_none() {
            return Err(format!("fault {n}: wipe goes with kill"));
        }
        match (&f.kill, &f.link, &f.freeze) {
            (None, None, Some(t)) => {
                if !shard_ok(t) {
                    return Err(format!(
                        "fault {n}: freeze = \"{t}\" but the cluster has {name_them}"
                    ));
                }
                if f.delay > Duration::ZERO
                    || f.drop > 0.0
                    || f.duplicate > 0.0
                    || !f.restart_after.is_zero()
                {
                    return Err(format!(
                        "fault {n}: a freeze lasts its duration (or to the end of the run) and takes no restart_after, delay, drop or duplicate"
                    ));
                }
            }
            (Some(t), None, None) => {
                if !shard_ok(t) {
                    return Err(format!(
                        "fault {n}: kill = \"{t}\" but the cluster has {name_them}"
                    ));
                }
                if f.restart_after.is_zero() {
                    return Err(format!(
                        "fault {n}: kill needs restart_after (e.g. \"2s\"): a process that never comes back leaves its transactions pending"
                    ));
                }
                if self.cluster.storage != Storage::Disk {
                    return Err(format!(
                        "fault {n}: kill needs cluster.storage = \"disk\": a process must resume from its store"
                    ));
                }
                if link_settings {
                    return Err(format!(
                        "fault {n}: delay, drop, duplicate and duration go with link, not kill"
                    ));
                }
                if f.wipe && !matches!(t, Target::Validator(..)) {
                    return Err(format!(
                        "fault {n}: wipe needs a committee's validator (\"shard-<k>/validator-<i>\"), which takes the state from its peers; {t} has no one to take it from"
                    ));
                }
            }
            (None, Some(t), None) => {
                if matches!(t, Target::Beacon) || !shard_ok(t) {
                    return Err(format!(
                        "fault {n}: link = \"{t}\" must name a shard process of the cluster ({name_them}; the links are that process's with the beacon and, for a validator, with the validators it calls)"
                    ));
                }
                if !f.restart_after.is_zero() {
                    return Err(format!("fault {n}: restart_after goes with kill, not link"));
                }
                if f.delay > Duration::from_secs(10) {
                    return Err(format!("fault {n}: delay must be at most 10s"));
                }
                if f.delay.is_zero() && f.drop == 0.0 && f.duplicate == 0.0 {
                    return Err(format!(
                        "fault {n}: a link fault needs some delay, drop or duplicate"
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "fault {n} needs exactly one of kill = \"<process>\", freeze = \"<process>\" or link = \"shard-<k>\""
                ));
            }
        }
        Ok(())
    }
}

/// The first shard of `shards` that placement leaves without any of `0..accounts`
/// (every shard needs senders and recipients), or `None`. Stops as soon as every shard
/// has been seen, which for realistic sizes is after a few accounts per shard.
pub(crate) fn empty_shard(shards: u32, accounts: u64) -> Option<u32> {
    let placement = cross_shard::placement::Placement::new(shards)?;
    let mut seen = vec![false; shards as usize];
    let mut missing = shards;
    for a in 0..accounts {
        let s = placement.shard_of(a) as usize;
        if !seen[s] {
            seen[s] = true;
            missing -= 1;
            if missing == 0 {
                return None;
            }
        }
    }
    seen.iter().position(|&s| !s).map(|s| s as u32)
}
