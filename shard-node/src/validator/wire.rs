//! Consensus messages on the wire: [`Message`]s over [`CommitteeBlock`]s to and from
//! their protobuf form, every field checked on the way in (a peer is not trusted to
//! send well-formed messages; its signatures are checked by the machine).

use consensus::machine::{Message, Proposal};
use consensus::{Kind, Value, Vote};
use cross_shard::{Hash, Header};
use shardsim_proto::convert::{cert_from_wire, cert_to_wire};
use shardsim_proto::pb;
use shardsim_proto::pb::consensus_message::Kind as Wire;

use super::block::CommitteeBlock;

/// Why a peer's message was refused.
pub type Refused = String;

fn hash(field: &str, bytes: &[u8]) -> Result<Hash, Refused> {
    let a: [u8; 32] = bytes
        .try_into()
        .map_err(|_| format!("{field}: a hash is 32 bytes, got {}", bytes.len()))?;
    Ok(Hash(a))
}

fn signature(field: &str, bytes: &[u8]) -> Result<[u8; 64], Refused> {
    bytes
        .try_into()
        .map_err(|_| format!("{field}: a signature is 64 bytes, got {}", bytes.len()))
}

fn block_from_wire(b: Option<pb::CommitteeBlock>) -> Result<CommitteeBlock, Refused> {
    let b = b.ok_or("a block is missing")?;
    let header = b.header.as_ref().ok_or("a block's header is missing")?;
    let header = Header::try_from(header).map_err(|e| e.to_string())?;
    CommitteeBlock::new(b.record, header)
}

fn block_to_wire(b: &CommitteeBlock) -> pb::CommitteeBlock {
    pb::CommitteeBlock {
        record: b.record_bytes().to_vec(),
        header: Some(pb::Header::from(b.header())),
    }
}

/// A message from a peer, checked.
pub fn from_wire(m: pb::ConsensusMessage) -> Result<Message<CommitteeBlock>, Refused> {
    Ok(match m.kind.ok_or("an empty message")? {
        Wire::Hello(_) => return Err("a second hello".into()),
        Wire::Proposal(p) => Message::Proposal(Proposal {
            height: p.height,
            round: p.round,
            valid_round: p.valid_round,
            block: block_from_wire(p.block)?,
            signature: signature("proposal", &p.signature)?,
        }),
        Wire::Vote(v) => {
            let kind = match v.kind {
                1 => Kind::Prevote,
                2 => Kind::Precommit,
                k => return Err(format!("vote kind {k} (1 prevote, 2 precommit)")),
            };
            let value = if v.block.is_empty() && v.state_root.is_empty() {
                None
            } else {
                Some(Value {
                    block: hash("vote block", &v.block)?,
                    state_root: hash("vote state_root", &v.state_root)?,
                })
            };
            Message::Vote(Vote {
                kind,
                height: v.height,
                round: v.round,
                value,
                voter: consensus::ValidatorId::try_from(v.voter)
                    .map_err(|_| format!("voter {} is not a validator index", v.voter))?,
                signature: signature("vote", &v.signature)?,
            })
        }
        Wire::Decided(d) => Message::Decided {
            block: block_from_wire(d.block)?,
            cert: cert_from_wire(d.cert.as_ref().ok_or("a certificate is missing")?)
                .map_err(|e| e.to_string())?,
        },
        Wire::Behind(height) => Message::Behind { height },
        Wire::Seen(s) => Message::Seen {
            height: s.height,
            round: s.round,
            valid_round: s.valid_round,
            block: hash("seen block", &s.block)?,
            signature: signature("seen", &s.signature)?,
        },
    })
}

/// A message for a peer.
pub fn to_wire(m: &Message<CommitteeBlock>) -> pb::ConsensusMessage {
    let kind = match m {
        Message::Proposal(p) => Wire::Proposal(pb::ConsensusProposal {
            height: p.height,
            round: p.round,
            valid_round: p.valid_round,
            block: Some(block_to_wire(&p.block)),
            signature: p.signature.to_vec(),
        }),
        Message::Vote(v) => Wire::Vote(pb::ConsensusVote {
            kind: match v.kind {
                Kind::Prevote => 1,
                Kind::Precommit => 2,
            },
            height: v.height,
            round: v.round,
            block: v.value.map(|x| x.block.0.to_vec()).unwrap_or_default(),
            state_root: v.value.map(|x| x.state_root.0.to_vec()).unwrap_or_default(),
            voter: u32::from(v.voter),
            signature: v.signature.to_vec(),
        }),
        Message::Decided { block, cert } => Wire::Decided(pb::ConsensusDecided {
            block: Some(block_to_wire(block)),
            cert: Some(cert_to_wire(cert)),
        }),
        Message::Behind { height } => Wire::Behind(*height),
        Message::Seen {
            height,
            round,
            valid_round,
            block,
            signature,
        } => Wire::Seen(pb::ConsensusSeen {
            height: *height,
            round: *round,
            valid_round: *valid_round,
            block: block.0.to_vec(),
            signature: signature.to_vec(),
        }),
    };
    pb::ConsensusMessage { kind: Some(kind) }
}
