//! The block a committee agrees on: the inputs its proposer gathered, with the header
//! the proposer computed from them.
//!
//! Its hash is the header's, and the header names the inputs' hash
//! ([`Header::inputs`]), so one hash commits to what went in (transactions, receipts)
//! and what came out (state root, receipts root): the votes, and so the certificate the
//! beacon checks, cover both.

use std::sync::Arc;

use cross_shard::{Hash, Header};
use shardsim_proto::pb;

use crate::block::store::inputs_hash;

/// A proposed (or decided) block of a committee. Cheap to clone: the machine keeps
/// proposals by round and the value a quorum prevoted.
#[derive(Debug, Clone)]
pub struct CommitteeBlock {
    record: Arc<pb::BlockRecord>,
    header: Header,
    hash: Hash,
}

impl CommitteeBlock {
    /// A block from its inputs and header; refused when the header does not name
    /// these inputs.
    pub fn new(record: pb::BlockRecord, header: Header) -> Result<CommitteeBlock, String> {
        if header.inputs != inputs_hash(&record) {
            return Err(format!(
                "block {} of shard {}: the header's inputs hash is not its record's",
                header.height, header.shard
            ));
        }
        Ok(CommitteeBlock {
            hash: header.hash(),
            record: Arc::new(record),
            header,
        })
    }

    /// The inputs.
    pub fn record(&self) -> &pb::BlockRecord {
        &self.record
    }

    /// The header its proposer computed.
    pub fn header(&self) -> &Header {
        &self.header
    }
}

impl consensus::Block for CommitteeBlock {
    fn hash(&self) -> Hash {
        self.hash
    }
}
