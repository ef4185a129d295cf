//! Readable one-line descriptions of peer messages, for the simulator's
//! traces and the golden tests: the fields that matter for following the
//! protocol (ballots, slots, commit indexes, the commands of each value).

use synod_paxos::{Envelope, Message, SlotEntry, Value};

use crate::harness::value_texts;

/// A value as text: `no-op`, or its commands (see [`value_texts`]).
pub fn value_text(value: &Value) -> String {
    match value {
        Value::Noop => "no-op".to_string(),
        Value::Batch(_) => format!("[{}]", value_texts(value).join(", ")),
        Value::Reconfigure(config) => format!("reconfigure to {config}"),
    }
}

fn entries_text(entries: &[SlotEntry]) -> String {
    let entries: Vec<String> = entries
        .iter()
        .map(|entry| {
            format!(
                "{}@{} {}",
                entry.slot.0,
                entry.entry.ballot,
                value_text(&entry.entry.value)
            )
        })
        .collect();
    format!("[{}]", entries.join(", "))
}

/// One message: `from -> to kind details`.
pub fn describe(envelope: &Envelope) -> String {
    let detail = match &envelope.message {
        Message::Prepare {
            ballot,
            first_undecided,
        } => format!("prepare {ballot} from slot {}", first_undecided.0),
        Message::Promise {
            ballot,
            committed,
            entries,
        } => format!(
            "promise {ballot} committed {} entries {}",
            committed.0,
            entries_text(entries)
        ),
        Message::Accept {
            ballot,
            committed,
            proposals,
        } => {
            let proposals: Vec<String> = proposals
                .iter()
                .map(|proposal| format!("{} {}", proposal.slot.0, value_text(&proposal.value)))
                .collect();
            format!(
                "accept {ballot} committed {} slots [{}]",
                committed.0,
                proposals.join(", ")
            )
        }
        Message::Accepted { ballot, slots } => {
            let slots: Vec<u64> = slots.iter().map(|slot| slot.0).collect();
            format!("accepted {ballot} slots {slots:?}")
        }
        Message::Heartbeat {
            ballot,
            committed,
            round,
        } => format!(
            "heartbeat {ballot} committed {} round {}",
            committed.0, round.0
        ),
        Message::HeartbeatAck {
            ballot,
            round,
            committed,
        } => format!(
            "heartbeat-ack {ballot} round {} committed {}",
            round.0, committed.0
        ),
        Message::Reject { rejected, promised } => {
            format!("reject {rejected} promised {promised}")
        }
        Message::Forward { commands } => format!("forward {} commands", commands.len()),
        Message::ForwardRejected { commands, reason } => {
            format!("forward-rejected {} commands: {reason:?}", commands.len())
        }
        // Read request numbers start at a random point per incarnation;
        // only their count and outcome matter here.
        Message::ReadIndexRequest { reads, .. } => format!("read-index-request for {reads} reads"),
        Message::ReadIndexReply {
            ballot,
            read_index,
            committed,
            ..
        } => format!(
            "read-index-reply {ballot} read index {} committed {}",
            read_index.0, committed.0
        ),
        Message::ReadIndexRejected { reason, .. } => format!("read-index-rejected: {reason:?}"),
        Message::PreVote { ballot } => format!("pre-vote {ballot}"),
        Message::PreVoteReply {
            ballot,
            granted,
            promised,
        } => {
            let answer = if *granted { "granted" } else { "refused" };
            format!("pre-vote-reply {ballot} {answer} promised {promised}")
        }
        Message::Resign {
            ballot,
            successor: None,
        } => format!("resign {ballot}"),
        Message::Resign {
            ballot,
            successor: Some(successor),
        } => format!("resign {ballot}, hand over to {successor}"),
        Message::CatchUpRequest { from } => format!("catch-up-request from slot {}", from.0),
        Message::CatchUp { entries, committed } => format!(
            "catch-up committed {} entries {}",
            committed.0,
            entries_text(entries)
        ),
        Message::SnapshotChunk { chunk, committed } => format!(
            "snapshot-chunk up to slot {} bytes {}..{} of {} committed {}",
            chunk.end.0,
            chunk.offset,
            chunk.offset + chunk.data.len() as u64,
            chunk.state_size_bytes,
            committed.0
        ),
        Message::SnapshotChunkRequest { end, offset } => format!(
            "snapshot-chunk-request up to slot {} from byte {offset}",
            end.0
        ),
    };
    format!("{} -> {} {detail}", envelope.from, envelope.to)
}
