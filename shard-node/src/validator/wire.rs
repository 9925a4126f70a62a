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
        Wire::WantManifest(_) | Wire::Manifest(_) | Wire::WantChunk(_) | Wire::Chunk(_) => {
            return Err("a state-sync message outside state sync".into());
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn vote(
        block: Vec<u8>,
        root: Vec<u8>,
        kind: u32,
        voter: u32,
        sig: usize,
    ) -> pb::ConsensusMessage {
        pb::ConsensusMessage {
            kind: Some(Wire::Vote(pb::ConsensusVote {
                kind,
                height: 3,
                round: 1,
                block,
                state_root: root,
                voter,
                signature: vec![7; sig],
            })),
        }
    }

    #[test]
    fn a_vote_survives_the_wire_and_every_malformed_field_is_named() {
        let good = vote(vec![1; 32], vec![2; 32], 2, 3, 64);
        let back = from_wire(good.clone()).unwrap();
        assert_eq!(to_wire(&back), good);
        let nil = from_wire(vote(vec![], vec![], 1, 0, 64)).unwrap();
        assert!(matches!(nil, Message::Vote(Vote { value: None, .. })));
        for (m, named) in [
            (vote(vec![1; 31], vec![2; 32], 2, 3, 64), "vote block"),
            (vote(vec![1; 32], vec![], 2, 3, 64), "vote state_root"),
            (vote(vec![1; 32], vec![2; 32], 9, 3, 64), "vote kind 9"),
            (vote(vec![1; 32], vec![2; 32], 2, 70_000, 64), "voter 70000"),
            (
                vote(vec![1; 32], vec![2; 32], 2, 3, 63),
                "signature is 64 bytes",
            ),
        ] {
            let e = from_wire(m).unwrap_err();
            assert!(e.contains(named), "{e}");
        }
        for m in [
            pb::ConsensusMessage { kind: None },
            pb::ConsensusMessage {
                kind: Some(Wire::Hello(1)),
            },
            pb::ConsensusMessage {
                kind: Some(Wire::Proposal(pb::ConsensusProposal::default())),
            },
            pb::ConsensusMessage {
                kind: Some(Wire::Decided(pb::ConsensusDecided::default())),
            },
        ] {
            assert!(from_wire(m).is_err());
        }
    }

    #[test]
    fn a_block_whose_header_does_not_name_its_inputs_is_refused() {
        let record = pb::BlockRecord {
            beacon_height: 4,
            ..Default::default()
        };
        let bytes = record.encode_to_vec();
        let header = Header {
            shard: 0,
            height: 1,
            prev_hash: Hash::ZERO,
            state_root: Hash([5; 32]),
            receipts_root: Hash::ZERO,
            tx_count: 0,
            inputs: crate::block::store::inputs_hash(&bytes),
        };
        let proposal = |bytes: Vec<u8>, header: &Header| pb::ConsensusMessage {
            kind: Some(Wire::Proposal(pb::ConsensusProposal {
                height: 1,
                round: 0,
                valid_round: None,
                block: Some(pb::CommitteeBlock {
                    record: bytes,
                    header: Some(pb::Header::from(header)),
                }),
                signature: vec![0; 64],
            })),
        };
        let ok = from_wire(proposal(bytes.clone(), &header)).unwrap();
        let Message::Proposal(p) = &ok else {
            panic!("{ok:?}")
        };
        assert_eq!(p.block.record().beacon_height, 4);
        assert_eq!(to_wire(&ok), proposal(bytes.clone(), &header));
        // Other inputs under the same header: the hash gives them away.
        let other = pb::BlockRecord {
            beacon_height: 5,
            ..Default::default()
        }
        .encode_to_vec();
        let e = from_wire(proposal(other, &header)).unwrap_err();
        assert!(e.contains("inputs hash"), "{e}");
        // Bytes that hash right but are no record.
        let junk = vec![0xff; 9];
        let junk_header = Header {
            inputs: crate::block::store::inputs_hash(&junk),
            ..header
        };
        let e = from_wire(proposal(junk, &junk_header)).unwrap_err();
        assert!(e.contains("does not decode"), "{e}");
    }

    proptest::proptest! {
        /// Whatever a peer sends, decoding it gives a message or an error, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            if let Ok(m) = pb::ConsensusMessage::decode(bytes.as_slice()) {
                let _ = from_wire(m);
            }
        }
    }
}
