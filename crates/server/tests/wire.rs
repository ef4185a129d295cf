//! Properties of the peer wire format: every message survives a round trip
//! byte for byte, and no input makes the decoder panic.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use synod_paxos::{
    Ballot, Configuration, ConfigurationChange, Entry, Membership, Message, NodeId, Proposal,
    ReadError, ReadRequestId, ReadRound, RejectReason, Slot, SlotEntry, SnapshotChunk, Value,
};
use synod_server::wire::{
    decode_hello, decode_hello_reply, decode_message, encode_message, put_frame, take_frame,
};

fn integer() -> impl Strategy<Value = u64> {
    prop_oneof![0..200u64, any::<u64>()]
}

fn reject_reason() -> impl Strategy<Value = RejectReason> {
    prop_oneof![
        Just(RejectReason::NoLeader),
        Just(RejectReason::Overloaded),
        proptest::option::of(integer()).prop_map(|leader| RejectReason::NotLeader {
            leader: leader.map(NodeId)
        }),
    ]
}

fn read_error() -> impl Strategy<Value = ReadError> {
    prop_oneof![
        Just(ReadError::NoLeader),
        Just(ReadError::NotLeader),
        Just(ReadError::Timeout),
        Just(ReadError::Overloaded),
    ]
}

fn slot() -> impl Strategy<Value = Slot> {
    integer().prop_map(Slot)
}

fn ballot() -> impl Strategy<Value = Ballot> {
    (integer(), integer()).prop_map(|(round, node)| Ballot {
        round,
        node: NodeId(node),
    })
}

fn command() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

fn commands() -> impl Strategy<Value = Vec<Bytes>> {
    vec(command(), 0..6)
}

/// A valid configuration: one to five voters, up to three learners, some
/// members with addresses, up to three retired ids.
fn configuration() -> impl Strategy<Value = Configuration> {
    (
        integer(),
        vec(integer(), 1..6),
        vec(integer(), 0..4),
        vec(integer(), 0..4),
    )
        .prop_map(|(epoch, voters, learners, retired)| {
            let voters: std::collections::BTreeSet<NodeId> =
                voters.into_iter().map(NodeId).collect();
            let learners: std::collections::BTreeSet<NodeId> = learners
                .into_iter()
                .map(NodeId)
                .filter(|node| !voters.contains(node))
                .collect();
            let addresses = voters
                .iter()
                .chain(&learners)
                .filter(|node| node.0 % 2 == 0)
                .map(|node| (*node, format!("host-{}:7000", node.0)))
                .collect();
            let retired = retired
                .into_iter()
                .map(NodeId)
                .filter(|node| !voters.contains(node) && !learners.contains(node))
                .collect();
            Configuration {
                epoch,
                voters,
                learners,
                addresses,
                retired,
            }
        })
}

/// A chain of up to four changes from a configuration.
fn membership() -> impl Strategy<Value = Membership> {
    (configuration(), vec((1..1_000u64, 0..3u8, 0..9u64), 0..4)).prop_map(|(initial, changes)| {
        let mut membership = Membership::new(initial);
        let mut slot = 0;
        for (gap, kind, node) in changes {
            slot += gap;
            let node = NodeId(node);
            let change = match kind {
                0 => ConfigurationChange::AddLearner {
                    node,
                    address: format!("127.0.0.{}:{}", node.0 + 1, 7_000 + gap),
                },
                1 => ConfigurationChange::Promote(node),
                _ => ConfigurationChange::Remove(node),
            };
            if let Ok(next) = membership.latest().changed(change) {
                membership.record_decided(Slot(slot), &next);
            }
        }
        membership
    })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Noop),
        commands().prop_map(|commands| Value::Batch(Arc::from(commands))),
        configuration().prop_map(|config| Value::Reconfigure(Arc::new(config))),
    ]
}

fn slot_entries() -> impl Strategy<Value = Vec<SlotEntry>> {
    vec(
        (slot(), ballot(), value()).prop_map(|(slot, ballot, value)| SlotEntry {
            slot,
            entry: Entry { ballot, value },
        }),
        0..5,
    )
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (ballot(), slot()).prop_map(|(ballot, first_undecided)| Message::Prepare {
            ballot,
            first_undecided
        }),
        (ballot(), slot(), slot_entries()).prop_map(|(ballot, committed, entries)| {
            Message::Promise {
                ballot,
                committed,
                entries,
            }
        }),
        (ballot(), slot(), vec((slot(), value()), 0..5)).prop_map(
            |(ballot, committed, proposals)| Message::Accept {
                ballot,
                committed,
                proposals: proposals
                    .into_iter()
                    .map(|(slot, value)| Proposal { slot, value })
                    .collect(),
            }
        ),
        (ballot(), vec(slot(), 0..8))
            .prop_map(|(ballot, slots)| Message::Accepted { ballot, slots }),
        (ballot(), slot(), integer()).prop_map(|(ballot, committed, round)| Message::Heartbeat {
            ballot,
            committed,
            round: ReadRound(round)
        }),
        (ballot(), integer(), slot()).prop_map(|(ballot, round, committed)| {
            Message::HeartbeatAck {
                ballot,
                round: ReadRound(round),
                committed,
            }
        }),
        (ballot(), ballot())
            .prop_map(|(rejected, promised)| Message::Reject { rejected, promised }),
        commands().prop_map(|commands| Message::Forward { commands }),
        (commands(), reject_reason())
            .prop_map(|(commands, reason)| Message::ForwardRejected { commands, reason }),
        (integer(), integer()).prop_map(|(request, reads)| Message::ReadIndexRequest {
            request: ReadRequestId(request),
            reads,
        }),
        (integer(), ballot(), slot(), slot()).prop_map(
            |(request, ballot, read_index, committed)| Message::ReadIndexReply {
                request: ReadRequestId(request),
                ballot,
                read_index,
                committed,
            }
        ),
        (integer(), read_error()).prop_map(|(request, reason)| Message::ReadIndexRejected {
            request: ReadRequestId(request),
            reason,
        }),
        slot().prop_map(|from| Message::CatchUpRequest { from }),
        ballot().prop_map(|ballot| Message::PreVote { ballot }),
        (ballot(), any::<bool>(), ballot()).prop_map(|(ballot, granted, promised)| {
            Message::PreVoteReply {
                ballot,
                granted,
                promised,
            }
        }),
        (ballot(), proptest::option::of(integer())).prop_map(|(ballot, successor)| {
            Message::Resign {
                ballot,
                successor: successor.map(NodeId),
            }
        }),
        (slot_entries(), slot())
            .prop_map(|(entries, committed)| Message::CatchUp { entries, committed }),
        (
            (
                slot(),
                integer(),
                any::<u32>(),
                proptest::option::of(membership())
            ),
            (integer(), command(), any::<u32>(), slot()),
        )
            .prop_map(
                |(
                    (end, state_size_bytes, state_checksum, membership),
                    (offset, data, data_checksum, committed),
                )| {
                    Message::SnapshotChunk {
                        chunk: SnapshotChunk {
                            end,
                            state_size_bytes,
                            state_checksum,
                            membership,
                            offset,
                            data,
                            data_checksum,
                        },
                        committed,
                    }
                }
            ),
        (slot(), integer()).prop_map(|(end, offset)| Message::SnapshotChunkRequest { end, offset }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn every_message_survives_a_round_trip(message in message()) {
        let encoded = encode_message(&message);
        let decoded = decode_message(encoded.clone()).expect("a fresh encoding decodes");
        prop_assert_eq!(&decoded, &message);
        // One message, one encoding.
        prop_assert_eq!(encode_message(&decoded), encoded);
    }

    #[test]
    fn frames_carry_a_stream_of_messages(messages in vec(message(), 0..6), split in 0usize..64) {
        let mut stream = BytesMut::new();
        for message in &messages {
            put_frame(&mut stream, &encode_message(message)).unwrap();
        }
        // Bytes arrive in two pieces cut at an arbitrary point.
        let cut = split.min(stream.len());
        let mut buffer = BytesMut::from(&stream[..cut]);
        let mut decoded = Vec::new();
        while let Some(frame) = take_frame(&mut buffer).unwrap() {
            decoded.push(decode_message(frame).unwrap());
        }
        buffer.extend_from_slice(&stream[cut..]);
        while let Some(frame) = take_frame(&mut buffer).unwrap() {
            decoded.push(decode_message(frame).unwrap());
        }
        prop_assert!(buffer.is_empty());
        prop_assert_eq!(decoded, messages);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in vec(any::<u8>(), 0..256)) {
        let _ = decode_message(Bytes::from(bytes.clone()));
        let _ = decode_hello(&bytes);
        let _ = decode_hello_reply(&bytes);
        let mut buffer = BytesMut::from(&bytes[..]);
        while let Ok(Some(frame)) = take_frame(&mut buffer) {
            let _ = decode_message(frame);
        }
    }

    #[test]
    fn a_damaged_encoding_never_panics_the_decoder(
        message in message(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut encoded = BytesMut::from(&encode_message(&message)[..]);
        let index = position.index(encoded.len());
        encoded[index] = byte;
        let _ = decode_message(encoded.clone().freeze());
        encoded.truncate(index);
        prop_assert!(decode_message(encoded.freeze()).is_err());
    }
}
