//! The bank workload: accounts (`a0`, `a1`, …) whose balances start at 0,
//! transfers between them, and reads of every balance at once.
//!
//! A transfer is Redis's check-and-set in three steps: `WATCH` both
//! accounts (a version read), `MGET` their balances (a read), then `EXEC` a
//! transaction that `SET`s both new balances. The new balances come from
//! the values read, so only `WATCH` stops two concurrent transfers from
//! losing one's update; and only the atomicity of the transaction stops a
//! read from seeing money in flight. Either failure makes the sum of the
//! balances drift from 0, which `crate::workload_checks::check_balances`
//! catches on every read of all balances and at the end.

use bytes::Bytes;
use synod_kv::{KeyVersion, Operation, Response, Sequence, SetCondition};
use synod_paxos::NodeId;

use super::clients::ClientOperation;
use super::World;
use crate::world::RecordStatus;

/// The prefix of the accounts' keys.
pub const ACCOUNT_KEY_PREFIX: &str = "a";

/// A transfer moves at most this much.
const TRANSFER_AMOUNT_MAX: u64 = 20;

/// Where a transfer stands.
#[derive(Clone, Debug)]
pub(crate) struct Transfer {
    from: Bytes,
    to: Bytes,
    amount: i64,
    /// What `WATCH` saw, once it answered.
    versions: Option<Vec<KeyVersion>>,
}

/// The sum of the balances read (a missing account holds 0; a balance that
/// is not a number counts as `i64::MIN`, which no check accepts).
pub fn sum_of_balances(values: &[Option<Bytes>]) -> i64 {
    values
        .iter()
        .map(|value| match value {
            None => 0,
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|text| text.parse::<i64>().ok())
                .unwrap_or(i64::MIN),
        })
        .fold(0i64, i64::wrapping_add)
}

impl World {
    fn account(&self, number: u64) -> Bytes {
        Bytes::from(format!("{ACCOUNT_KEY_PREFIX}{number}"))
    }

    /// Every account's key.
    pub(crate) fn accounts(&self) -> Vec<Bytes> {
        (0..self.options.keys as u64)
            .map(|number| self.account(number))
            .collect()
    }

    /// A transfer between two different accounts, starting with its
    /// `WATCH`.
    pub(super) fn new_transfer_operation(&mut self) -> ClientOperation {
        let accounts = self.options.keys.max(2) as u64;
        let from = self.rng.below(accounts);
        let to = (from + 1 + self.rng.below(accounts - 1)) % accounts;
        let amount = self.rng.between(1, TRANSFER_AMOUNT_MAX) as i64;
        let (from, to) = (self.account(from), self.account(to));
        let key = format!(
            "{}->{}",
            String::from_utf8_lossy(&from),
            String::from_utf8_lossy(&to)
        );
        let mut operation = self.client_operation(
            Operation::ReadVersions {
                keys: vec![from.clone(), to.clone()],
            },
            "transfer",
            key,
            amount.to_string(),
        );
        operation.transfer = Some(Transfer {
            from,
            to,
            amount,
            versions: None,
        });
        operation
    }

    /// A read of every balance at once (`MGET`).
    pub(super) fn new_balances_operation(&mut self) -> ClientOperation {
        let keys = self.accounts();
        self.client_operation(
            Operation::GetMany { keys },
            "balances",
            ACCOUNT_KEY_PREFIX.to_owned(),
            String::new(),
        )
    }

    /// Takes a transfer's answer. Returns the response when the operation
    /// ends with it (or is not a transfer); `None` when the transfer went
    /// on to its next step.
    pub(super) fn advance_transfer(
        &mut self,
        client: usize,
        node: NodeId,
        response: Response,
    ) -> Option<Response> {
        let current = self.clients[client].current.as_mut().expect("checked");
        let Some(transfer) = current.transfer.as_mut() else {
            return Some(response);
        };
        match (&transfer.versions, response) {
            (None, Response::Versions(versions)) => {
                transfer.versions = Some(versions);
                current.operation = Operation::GetMany {
                    keys: vec![transfer.from.clone(), transfer.to.clone()],
                };
            }
            (Some(versions), Response::Values(values)) if values.len() == 2 => {
                let balance = |index: usize| sum_of_balances(&values[index..=index]);
                let watches = vec![
                    (transfer.from.clone(), versions[0]),
                    (transfer.to.clone(), versions[1]),
                ];
                let set = |key: &Bytes, balance: i64| Operation::Set {
                    key: key.clone(),
                    value: Bytes::from(balance.to_string()),
                    condition: SetCondition::Always,
                };
                let operations = vec![
                    set(&transfer.from, balance(0).wrapping_sub(transfer.amount)),
                    set(&transfer.to, balance(1).wrapping_add(transfer.amount)),
                ];
                current.operation = Operation::Transaction {
                    watches,
                    operations,
                };
                let state = &mut self.clients[client];
                let sequence = Sequence(state.next_sequence);
                state.next_sequence += 1;
                state.current.as_mut().expect("checked").sequence = Some(sequence);
            }
            (Some(_), Response::Transaction(_)) => {
                // Committed: `found` says so.
                self.finish(client, Some(node), RecordStatus::Ok, Some(true));
                return None;
            }
            (Some(_), Response::Aborted) => {
                self.finish(client, Some(node), RecordStatus::Ok, Some(false));
                return None;
            }
            (_, other) => return Some(other),
        }
        // The next step is a new request: answers to the last one's other
        // attempts no longer count.
        let current = self.clients[client].current.as_mut().expect("checked");
        current.attempts.clear();
        current.maybe_applied = false;
        self.send_attempt(client);
        None
    }
}
