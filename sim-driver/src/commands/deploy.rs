//! `shardsim deploy kubernetes`: a scenario's cluster as Kubernetes manifests.
//!
//! ```text
//!   namespace shardsim-<name>
//!   Secret shardsim-kit      the kit (keys, committees, certificates, the scenario,
//!                            cluster.toml), mounted at /kit in every pod
//!   Service beacon ─► StatefulSet beacon (1 pod)              beacon.<ns>.svc:7000
//!   Service shard-k (headless) ─► StatefulSet shard-k (n pods) shard-k-i.shard-k.<ns>.svc:7000
//!        pod shard-k-i is validator i: its ordinal picks its command line
//!   Job shardsim-driver      waits until every process is ready, then
//!                            `shardsim run /kit/scenario.toml --cluster /kit/cluster.toml`
//!                            into the volume shardsim-results
//!   after/results-reader.yaml  a pod that mounts the results, to copy them out
//! ```
//!
//! Every process listens on 0.0.0.0:7000 over mutual TLS with the kit's certificates
//! (its identity is its certificate's role, not its pod's address); readiness probes
//! ask the standard health service through `shardsim health` with the pod's own
//! certificate (a kubelet's own gRPC probe cannot present one). The command lines are
//! the kit's ([`Kit::beacon_args`], [`Kit::shard_args`]), the ones `shardsim run`
//! starts its own processes with.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use crate::cluster::Kit;
use crate::cluster::attach::ClusterFile;
use crate::scenario::{Scenario, Storage};

/// The port every process listens on.
pub const PORT: u16 = 7000;
/// Where the kit is mounted in every pod.
const KIT: &str = "/kit";
/// The Secret holding it.
pub const SECRET: &str = "shardsim-kit";

/// What `deploy kubernetes` needs besides the scenario.
#[derive(Debug, Clone)]
pub struct Options {
    /// The container image with `shardsim` on its PATH (the repository's Dockerfile).
    pub image: String,
    /// The namespace; default `shardsim-<scenario name>`.
    pub namespace: Option<String>,
}

/// A Secret key for the kit file at `path` (relative): `/` is not allowed in a key.
fn key_of(path: &str) -> String {
    path.replace('/', "__")
}

/// Writes the manifests of `scenario`'s cluster into `out`.
pub fn write(scenario: &Scenario, out: &Path, opts: &Options) -> anyhow::Result<()> {
    super::refuse_kit_for_real_traffic(scenario)?;
    let ns = opts.namespace.clone().unwrap_or_else(|| {
        format!(
            "shardsim-{}",
            scenario.name.to_lowercase().replace('_', "-")
        )
    });
    let c = &scenario.cluster;
    let n = c.validators;
    // The kit, made in a temporary folder, goes into the Secret; its paths in the
    // command lines become /kit's.
    let tmp = tempfile::tempdir().context("a temporary folder for the kit")?;
    let kit = Kit::write(scenario, tmp.path(), true)?;
    let local = tmp.path().display().to_string();
    let at_kit = |args: Vec<String>| -> Vec<String> {
        args.into_iter().map(|a| a.replace(&local, KIT)).collect()
    };
    let svc = |host: &str| format!("{host}.{ns}.svc.cluster.local:{PORT}");
    let validator_host = |k: u32, i: u32| format!("shard-{k}-{i}.shard-{k}");
    // The cluster file the driver attaches with.
    ClusterFile {
        beacon: svc("beacon"),
        validators: (0..c.shards)
            .map(|k| (0..n).map(|i| svc(&validator_host(k, i))).collect())
            .collect(),
        credentials: Some("tls".into()),
    }
    .write(&tmp.path().join("cluster.toml"), "")?;
    std::fs::write(
        tmp.path().join("scenario.toml"),
        toml::to_string(scenario).context("writing the scenario")?,
    )?;
    // The Secret: every file of the kit, by its path.
    let mut files = Vec::new();
    collect(tmp.path(), tmp.path(), &mut files)?;
    files.sort();
    let mut data = serde_json::Map::new();
    for rel in &files {
        use base64::Engine as _;
        let bytes = std::fs::read(tmp.path().join(rel))?;
        data.insert(
            key_of(rel),
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        );
    }
    // Each component mounts only its own files: the CA, its certificates and keys,
    // and what its command reads. (A committee's pods share one template, so they
    // share their committee's keys; no pod holds another component's.)
    let kit_volume = |mine: &dyn Fn(&str) -> bool| {
        let items: Vec<Value> = files
            .iter()
            .filter(|rel| *rel == "tls/ca.pem" || mine(rel))
            .map(|rel| json!({ "key": key_of(rel), "path": rel }))
            .collect();
        json!({ "name": "kit", "secret": { "secretName": SECRET, "items": items, "defaultMode": 0o400 } })
    };
    let labels = |component: &str| json!({ "app.kubernetes.io/name": "shardsim", "app.kubernetes.io/component": component });
    let kit_mount = json!({ "name": "kit", "mountPath": KIT, "readOnly": true });
    let data_args = |name: &str| -> Vec<String> {
        match c.storage {
            Storage::Disk => vec![
                "--data-dir".into(),
                format!("/data/{}", name.replace('/', ".")),
            ],
            Storage::Memory => Vec::new(),
        }
    };
    // A shell line running `shardsim` with these arguments (each quoted).
    let shell = |args: &[String]| -> String {
        let words: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        format!("exec shardsim {}", words.join(" "))
    };
    let probe = |role: &str| {
        json!({
            "exec": { "command": ["sh", "-c", format!(
                "exec shardsim health 127.0.0.1:{PORT} --tls {KIT}/tls --as {role} --server {role}"
            )] },
            "initialDelaySeconds": 2, "periodSeconds": 3, "timeoutSeconds": 3,
        })
    };
    let container = |name: &str, command: String, probe_role: &str, cpu: &str, memory: &str| {
        json!({
            "name": name,
            "image": opts.image,
            "command": ["sh", "-c", command],
            "ports": [{ "name": "grpc", "containerPort": PORT }],
            "readinessProbe": probe(probe_role),
            "resources": { "requests": { "cpu": cpu, "memory": memory } },
            "volumeMounts": [kit_mount, { "name": "data", "mountPath": "/data" }],
        })
    };
    let stateful_set = |name: &str, replicas: u32, container: Value, kit: Value| {
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": { "name": name, "namespace": ns, "labels": labels(name) },
            "spec": {
                "serviceName": name,
                "replicas": replicas,
                // Validators call each other as they start: no ordering needed.
                "podManagementPolicy": "Parallel",
                "selector": { "matchLabels": labels(name) },
                "template": {
                    "metadata": { "labels": labels(name) },
                    "spec": {
                        "containers": [container],
                        "volumes": [kit, { "name": "data", "emptyDir": {} }],
                    },
                },
            },
        })
    };
    let service = |name: &str, headless: bool| {
        let mut spec = json!({
            "selector": labels(name),
            "ports": [{ "name": "grpc", "port": PORT, "targetPort": "grpc" }],
        });
        if headless {
            spec["clusterIP"] = json!("None");
            // Peers must find a validator before it is ready: it is ready only once
            // it reached the beacon and its committee.
            spec["publishNotReadyAddresses"] = json!(true);
        }
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": name, "namespace": ns, "labels": labels(name) },
            "spec": spec,
        })
    };
    std::fs::create_dir_all(out.join("after"))
        .with_context(|| format!("creating {}", out.display()))?;
    let write_docs = |file: &str, docs: &[Value]| -> anyhow::Result<()> {
        let mut text = String::new();
        for d in docs {
            text.push_str("---\n");
            text.push_str(&serde_yaml_ng::to_string(d)?);
        }
        std::fs::write(out.join(file), text).with_context(|| format!("writing {file}"))
    };
    write_docs(
        "00-namespace.yaml",
        &[json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns } })],
    )?;
    write_docs(
        "01-secret.yaml",
        &[json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": { "name": SECRET, "namespace": ns, "labels": labels("kit") },
            "data": data,
        })],
    )?;
    // The beacon.
    let mut beacon_args = at_kit(kit.beacon_args(scenario));
    beacon_args.extend(data_args("beacon"));
    beacon_args.extend(["--listen".into(), format!("0.0.0.0:{PORT}")]);
    write_docs(
        "02-beacon.yaml",
        &[
            service("beacon", false),
            stateful_set(
                "beacon",
                1,
                container("beacon", shell(&beacon_args), "beacon", "250m", "256Mi"),
                kit_volume(&|rel| rel.starts_with("tls/beacon.")),
            ),
        ],
    )?;
    // Each shard's committee: validator i is the pod with ordinal i.
    let beacon_url = format!("https://{}", svc("beacon"));
    for k in 0..c.shards {
        let mut cases = String::from("i=${HOSTNAME##*-}\ncase \"$i\" in\n");
        for i in 0..n {
            let slot = k * n + i;
            let peers: Vec<String> = (0..i)
                .map(|j| format!("https://{}", svc(&validator_host(k, j))))
                .collect();
            let mut args = at_kit(kit.shard_args(scenario, slot, &beacon_url, &peers));
            let name = if n == 1 {
                format!("shard-{k}")
            } else {
                format!("shard-{k}/validator-{i}")
            };
            args.extend(data_args(&name));
            args.extend(["--listen".into(), format!("0.0.0.0:{PORT}")]);
            cases.push_str(&format!("  {i}) {} ;;\n", shell(&args)));
        }
        cases.push_str(&format!(
            "  *) echo \"no validator $i in a committee of {n}\" >&2; exit 2 ;;\nesac\n"
        ));
        let name = format!("shard-{k}");
        let role = format!("shard-{k}/validator-${{HOSTNAME##*-}}");
        let cpu = format!("{}m", 250 * c.threads_per_shard);
        write_docs(
            &format!("03-shard-{k}.yaml"),
            &[
                service(&name, true),
                stateful_set(
                    &name,
                    n,
                    container("validator", cases, &role, &cpu, "512Mi"),
                    kit_volume(&|rel| {
                        let own = format!("shard-{k}.validator-");
                        rel == "committees"
                            || rel
                                .strip_prefix("tls/")
                                .is_some_and(|f| f.starts_with(&own))
                            || rel
                                .strip_prefix("keys/")
                                .is_some_and(|f| f.starts_with(&own))
                    }),
                ),
            ],
        )?;
    }
    // The driver: once every process is ready, the scenario in attach mode.
    let mut wait = String::new();
    wait.push_str(&format!(
        "until shardsim health {} --tls {KIT}/tls --as driver --server beacon; do sleep 2; done\n",
        svc("beacon")
    ));
    for k in 0..c.shards {
        for i in 0..n {
            wait.push_str(&format!(
                "until shardsim health {} --tls {KIT}/tls --as driver --server shard-{k}/validator-{i}; do sleep 2; done\n",
                svc(&validator_host(k, i))
            ));
        }
    }
    let results = "shardsim-results";
    let results_mount = json!({ "name": "results", "mountPath": "/results" });
    let results_volume =
        json!({ "name": "results", "persistentVolumeClaim": { "claimName": results } });
    write_docs(
        "04-driver.yaml",
        &[
            json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": { "name": results, "namespace": ns, "labels": labels("results") },
                "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } },
            }),
            json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": { "name": "shardsim-driver", "namespace": ns, "labels": labels("driver") },
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "metadata": { "labels": labels("driver") },
                        "spec": {
                            "restartPolicy": "Never",
                            "initContainers": [{
                                "name": "wait-for-cluster",
                                "image": opts.image,
                                "command": ["sh", "-c", wait],
                                "volumeMounts": [kit_mount],
                            }],
                            "containers": [{
                                "name": "driver",
                                "image": opts.image,
                                "command": ["shardsim", "run", format!("{KIT}/scenario.toml"),
                                    "--cluster", format!("{KIT}/cluster.toml"), "--out", "/results", "--quiet"],
                                "resources": { "requests": { "cpu": "1", "memory": "512Mi" } },
                                "volumeMounts": [kit_mount, results_mount],
                            }],
                            "volumes": [
                                kit_volume(&|rel| {
                                    rel.starts_with("tls/driver.")
                                        || rel == "cluster.toml"
                                        || rel == "scenario.toml"
                                }),
                                results_volume,
                            ],
                        },
                    },
                },
            }),
        ],
    )?;
    write_docs(
        "after/results-reader.yaml",
        &[json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": "results-reader", "namespace": ns, "labels": labels("results") },
            "spec": {
                "containers": [{
                    "name": "reader", "image": opts.image,
                    "command": ["sleep", "3600"],
                    "volumeMounts": [results_mount],
                }],
                "volumes": [results_volume],
            },
        })],
    )?;
    Ok(())
}

/// Every file under `dir`, as a path relative to `root`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).expect("under the root");
            out.push(rel.display().to_string());
        }
    }
    Ok(())
}
