//! The rights workload (with [`super::WorldOptions::access`]): clients
//! grant and revoke the read right of one user, `probe`, through any node,
//! and read a key as that user through any node, under every fault of the
//! run. `crate::workload_checks::check_rights` then checks that each
//! probe read was judged by rights in force at some moment of its call:
//! once a change is acknowledged, and until the next one begins, every
//! node judges the probe by it. Grants and revokes are tagged writes, so a
//! retried change applies once.

use bytes::Bytes;
use synod_kv::{AccessOperation, Categories, Category, Operation, Principal, Rule, UserId};

use super::clients::ClientOperation;
use super::World;

/// The user whose rights change.
pub const PROBE_USER: &str = "probe";

/// The probe's id: the first user the store makes (the default user is 0),
/// since the workload makes no other.
const PROBE_USER_ID: UserId = UserId(1);

/// The key the probe reads.
const PROBE_KEY: &str = "k0";

impl World {
    /// A grant or a revoke of the probe's read right, or a read as the
    /// probe.
    pub(super) fn new_access_operation(&mut self) -> ClientOperation {
        if self.rng.chance(1, 2) {
            let grant = self.rng.chance(1, 2);
            let rules = if grant {
                vec![
                    Rule::On,
                    Rule::NoPassword,
                    Rule::Allow(Categories::of(Category::Read)),
                    Rule::AddKeyPattern(Bytes::from_static(b"*")),
                ]
            } else {
                vec![Rule::Deny(Categories::of(Category::Read))]
            };
            let operation = Operation::Access(AccessOperation::SetUser {
                name: Bytes::from_static(PROBE_USER.as_bytes()),
                rules,
            });
            let kind = if grant { "grant" } else { "revoke" };
            return self.client_operation(operation, "rights", PROBE_USER.into(), kind.into());
        }
        let operation = Operation::Get {
            key: Bytes::from_static(PROBE_KEY.as_bytes()),
        };
        let mut probe = self.client_operation(operation, "probe", PROBE_KEY.into(), String::new());
        probe.principal = Principal::User(PROBE_USER_ID);
        probe
    }
}
