//! The block a committee agrees on: the inputs its proposer gathered, with the header
//! the proposer computed from them.
//!
//! Its hash is the header's, and the header names the inputs' hash
//! ([`Header::inputs`]), so one hash commits to what went in (transactions, receipts)
//! and what came out (state root, receipts root): the votes, and so the certificate the
//! beacon checks, cover both. The inputs are kept as the bytes that were hashed (and
//! travel, and are stored, as those bytes), decoded once beside them.

use std::sync::Arc;

use cross_shard::{Hash, Header};
use prost::Message as _;
use shardsim_proto::pb;

use crate::block::store::inputs_hash;

/// A proposed (or decided) block of a committee. Cheap to clone: the machine keeps
/// proposals by round and the value a quorum prevoted.
#[derive(Debug, Clone)]
pub struct CommitteeBlock {
    bytes: Arc<Vec<u8>>,
    record: Arc<pb::BlockRecord>,
    header: Header,
    hash: Hash,
}

impl CommitteeBlock {
    /// A block from its encoded inputs and header; refused when the bytes are not a
    /// record or the header does not name their hash.
    pub fn new(bytes: Vec<u8>, header: Header) -> Result<CommitteeBlock, String> {
        let refuse =
            |why: &str| format!("block {} of shard {}: {why}", header.height, header.shard);
        if header.inputs != inputs_hash(&bytes) {
            return Err(refuse("the header's inputs hash is not its record's"));
        }
        let record = pb::BlockRecord::decode(bytes.as_slice())
            .map_err(|e| refuse(&format!("the record does not decode: {e}")))?;
        Ok(CommitteeBlock {
            hash: header.hash(),
            bytes: Arc::new(bytes),
            record: Arc::new(record),
            header,
        })
    }

    /// This validator's own block: `bytes` is `record` encoded, and `header` (which it
    /// computed from them) names their hash — nothing to check.
    pub fn made(bytes: Vec<u8>, record: pb::BlockRecord, header: Header) -> CommitteeBlock {
        CommitteeBlock {
            hash: header.hash(),
            bytes: Arc::new(bytes),
            record: Arc::new(record),
            header,
        }
    }

    /// A block from a record this validator made (its encoding is hashed once).
    pub fn of_record(record: &pb::BlockRecord, header: Header) -> Result<CommitteeBlock, String> {
        CommitteeBlock::new(record.encode_to_vec(), header)
    }

    /// The inputs.
    pub fn record(&self) -> &pb::BlockRecord {
        &self.record
    }

    /// The inputs as encoded (what `Header::inputs` hashes, what is sent and stored).
    pub fn record_bytes(&self) -> &[u8] {
        &self.bytes
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
