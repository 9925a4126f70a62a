//! `shardsim deploy kubernetes`: the manifests refer to each other consistently —
//! names, namespaces, ports, the Secret's files, the addresses the driver attaches to.
//! (CI also checks them against the Kubernetes schemas with `kubernetes-validate`.)

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde::Deserialize as _;
use serde_json::Value;

use crate::{scenario, shardsim};

/// Every YAML document of every manifest under `dir` (not `after/`).
fn documents(dir: &std::path::Path) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for d in serde_yaml_ng::Deserializer::from_str(&text) {
            docs.push(Value::deserialize(d).unwrap());
        }
    }
    docs
}

/// Every `/kit/…` path a string mentions.
fn kit_paths(text: &str, out: &mut BTreeSet<String>) {
    for (at, _) in text.match_indices("/kit/") {
        let rest = &text[at + "/kit/".len()..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '\'' || c == '"' || c == ';')
            .unwrap_or(rest.len());
        out.insert(rest[..end].to_string());
    }
}

#[test]
fn the_kubernetes_manifests_agree_on_names_ports_secrets_and_addresses() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(
        tmp.path(),
        "k8s",
        "name = \"k8s\"\nduration = \"5s\"\n[cluster]\nshards = 2\nvalidators = 4\nstorage = \"disk\"\n[workload]\naccounts = 4000\nrate = 1000\n",
    );
    let out = tmp.path().join("manifests");
    let run = shardsim()
        .args(["deploy", "kubernetes"])
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .args([
            "--image",
            "example/shardsim:test",
            "--namespace",
            "sim-test",
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let docs = documents(&out);
    let of = |kind: &str| -> BTreeMap<String, &Value> {
        docs.iter()
            .filter(|d| d["kind"] == kind)
            .map(|d| (d["metadata"]["name"].as_str().unwrap().to_string(), d))
            .collect()
    };
    let (services, sets, secrets) = (of("Service"), of("StatefulSet"), of("Secret"));
    assert_eq!(of("Namespace").keys().collect::<Vec<_>>(), ["sim-test"]);
    for d in docs.iter().filter(|d| d["kind"] != "Namespace") {
        assert_eq!(d["metadata"]["namespace"], "sim-test", "{d}");
    }
    assert_eq!(
        sets.keys().collect::<Vec<_>>(),
        ["beacon", "shard-0", "shard-1"]
    );

    // Every set has its Service, which selects its pods and reaches its port.
    for (name, set) in &sets {
        let svc = services.get(set["spec"]["serviceName"].as_str().unwrap());
        let svc = svc.unwrap_or_else(|| panic!("{name}: no Service"));
        let pod = &set["spec"]["template"];
        assert_eq!(svc["spec"]["selector"], pod["metadata"]["labels"], "{name}");
        assert_eq!(
            set["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"],
            "{name}"
        );
        let container = &pod["spec"]["containers"][0];
        assert_eq!(container["image"], "example/shardsim:test");
        let port = &svc["spec"]["ports"][0];
        assert_eq!(port["port"], 7000, "{name}");
        assert!(
            container["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == port["targetPort"] && p["containerPort"] == 7000),
            "{name}: the Service's target port is the container's"
        );
        assert_eq!(
            svc["spec"]["clusterIP"] == "None",
            name != "beacon",
            "{name}: a committee's Service is headless (stable pod names)"
        );
        let command = container["command"][2].as_str().unwrap();
        assert!(
            command.contains("--listen' '0.0.0.0:7000'") && command.contains("'--tls'"),
            "{name}"
        );
    }
    assert_eq!(sets["shard-1"]["spec"]["replicas"], 4);

    // Every Secret volume names the Secret and keys it holds; every /kit path a
    // command names is one of the files mounted.
    let secret = &secrets["shardsim-kit"];
    let data = secret["data"].as_object().unwrap();
    let mut all_mounted = BTreeSet::new();
    for d in docs
        .iter()
        .filter(|d| d["kind"] == "StatefulSet" || d["kind"] == "Job")
    {
        let name = d["metadata"]["name"].as_str().unwrap();
        let (mut mounted, mut named) = (BTreeSet::new(), BTreeSet::new());
        kit_paths(&d.to_string(), &mut named);
        let spec = &d["spec"]["template"]["spec"];
        for v in spec["volumes"].as_array().into_iter().flatten() {
            if let Some(s) = v.get("secret") {
                assert_eq!(s["secretName"], "shardsim-kit");
                for item in s["items"].as_array().unwrap() {
                    assert!(data.contains_key(item["key"].as_str().unwrap()), "{item}");
                    mounted.insert(item["path"].as_str().unwrap().to_string());
                }
            }
        }
        for p in &named {
            // A folder (tls) is named by its files' prefix.
            assert!(
                mounted.contains(p) || mounted.iter().any(|m| m.starts_with(&format!("{p}/"))),
                "{name}: /kit/{p} is named but not mounted: {mounted:?}"
            );
        }
        // Its own keys only: no other component's.
        let own = match name {
            "beacon" => "tls/beacon.".to_string(),
            "shardsim-driver" => "tls/driver.".to_string(),
            shard => format!("{shard}.validator-"),
        };
        for m in mounted.iter().filter(|m| m.ends_with(".key")) {
            assert!(m.contains(&own), "{name} mounts {m}");
        }
        all_mounted.extend(mounted);
    }
    for k in 0..2 {
        for i in 0..4 {
            for f in [
                format!("keys/shard-{k}.validator-{i}.key"),
                format!("tls/shard-{k}.validator-{i}.pem"),
            ] {
                assert!(all_mounted.contains(&f), "{f}");
            }
        }
    }

    // The driver attaches to the addresses the Services give the pods.
    let file = |path: &str| {
        let key = path.replace('/', "__");
        let b = base64::engine::general_purpose::STANDARD
            .decode(data[&key].as_str().unwrap())
            .unwrap();
        String::from_utf8(b).unwrap()
    };
    let cluster: toml::Value = toml::from_str(&file("cluster.toml")).unwrap();
    assert_eq!(
        cluster["beacon"].as_str(),
        Some("beacon.sim-test.svc.cluster.local:7000")
    );
    let validators = cluster["validators"].as_array().unwrap();
    assert_eq!(validators.len(), 2);
    for (k, committee) in validators.iter().enumerate() {
        for (i, addr) in committee.as_array().unwrap().iter().enumerate() {
            let addr = addr.as_str().unwrap();
            let (pod, rest) = addr.split_once('.').unwrap();
            let (svc, rest) = rest.split_once('.').unwrap();
            assert_eq!(pod, format!("{svc}-{i}"), "{addr}: pod <set>-<ordinal>");
            assert!(
                sets.contains_key(svc) && services.contains_key(svc),
                "{addr}"
            );
            assert!(
                i < sets[svc]["spec"]["replicas"].as_u64().unwrap() as usize,
                "{addr}"
            );
            assert_eq!(svc, format!("shard-{k}"));
            assert!(
                rest.starts_with("sim-test.svc.cluster.local:7000"),
                "{addr}"
            );
        }
    }
    let deployed: toml::Value = toml::from_str(&file("scenario.toml")).unwrap();
    assert_eq!(deployed["name"].as_str(), Some("k8s"));
    let job = &of("Job")["shardsim-driver"];
    let claim =
        &job["spec"]["template"]["spec"]["volumes"][1]["persistentVolumeClaim"]["claimName"];
    assert!(of("PersistentVolumeClaim").contains_key(claim.as_str().unwrap()));
}
