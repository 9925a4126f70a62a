//! The compiled contracts, from the artifacts committed in `contracts/artifacts/`.
//!
//! The JSON is embedded at build time; a test (`artifacts_match_their_sources`, which
//! needs Node and is skipped with a message without it) recompiles the sources with the
//! pinned compiler and fails if an artifact is stale.

use revm::primitives::Bytes;

/// The contracts shardsim deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// `token`: an ERC-20 per token.
    ShardToken,
    /// `swap`: a constant-product pool.
    Pool,
    /// `nft`: an ERC-721 per collection.
    Collection,
    /// `vote`: a ballot per proposal.
    Ballot,
    /// Stand-in calls of a trace's contracts: one instance per shard.
    StandIn,
}

impl Contract {
    /// Every contract.
    pub const ALL: [Contract; 5] = [
        Contract::ShardToken,
        Contract::Pool,
        Contract::Collection,
        Contract::Ballot,
        Contract::StandIn,
    ];

    /// The committed artifact's JSON.
    fn json(self) -> &'static str {
        match self {
            Contract::ShardToken => include_str!("../../../contracts/artifacts/ShardToken.json"),
            Contract::Pool => include_str!("../../../contracts/artifacts/Pool.json"),
            Contract::Collection => include_str!("../../../contracts/artifacts/Collection.json"),
            Contract::Ballot => include_str!("../../../contracts/artifacts/Ballot.json"),
            Contract::StandIn => include_str!("../../../contracts/artifacts/StandIn.json"),
        }
    }

    /// The creation bytecode (constructor arguments are appended to it).
    pub fn creation_code(self) -> Bytes {
        let artifact: serde_json::Value = serde_json::from_str(self.json())
            .unwrap_or_else(|e| unreachable!("a committed artifact is JSON: {e}"));
        let hex = artifact["bytecode"].as_str().unwrap_or_default();
        hex.parse()
            .unwrap_or_else(|e| unreachable!("a committed artifact's bytecode is hex: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    #[test]
    fn every_artifact_has_creation_code() {
        for c in Contract::ALL {
            assert!(c.creation_code().len() > 100, "{c:?}");
        }
    }

    /// Recompiles `contracts/src` with the pinned solc (in a temporary copy, after
    /// `npm ci`) and fails if a committed artifact differs. Needs Node and the npm
    /// registry; without Node it says so and passes.
    #[test]
    fn artifacts_match_their_sources() {
        if Command::new("node").arg("--version").output().is_err() {
            eprintln!("skipped: Node is not installed, so the artifacts cannot be rebuilt");
            return;
        }
        let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts");
        let tmp = tempfile::tempdir().unwrap();
        for f in ["package.json", "package-lock.json", "compile.js"] {
            std::fs::copy(contracts.join(f), tmp.path().join(f)).unwrap();
        }
        for dir in ["src", "artifacts"] {
            std::fs::create_dir(tmp.path().join(dir)).unwrap();
            for e in std::fs::read_dir(contracts.join(dir)).unwrap() {
                let e = e.unwrap();
                std::fs::copy(e.path(), tmp.path().join(dir).join(e.file_name())).unwrap();
            }
        }
        let npm = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(
            npm.status.success(),
            "npm ci failed: {}",
            String::from_utf8_lossy(&npm.stderr)
        );
        let check = Command::new("node")
            .args(["compile.js", "--check"])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
}
