//! The table of client sessions: what makes retried commands apply at most
//! once, within a bounded amount of memory.
//!
//! Every rule here depends only on the commands applied so far, never on a
//! clock or on which replica runs it, so every replica keeps the same table.
//! "Now" is the store's applied-command counter, passed in by the caller.

use std::collections::{BTreeMap, BTreeSet};

use crate::access::Principal;
use crate::command::{Sequence, SessionId, SessionTag};
use crate::fingerprint::Fingerprint;
use crate::response::Response;

/// The domain of session fingerprints, so a session never fingerprints like
/// a map entry.
const FINGERPRINT_DOMAIN_SESSION: u64 = 2;

/// What the table knows about one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// The highest sequence seen; 0 stands for the registration.
    pub(crate) sequence_last: Sequence,
    /// The answer to `sequence_last`, returned again when it is retried.
    /// `None` when that command was a read: a read's answer may be a large
    /// value, and caching one per session would make the table's memory
    /// `sessions_max` times the value size limit. A retried read is
    /// evaluated again instead, which is still linearizable: the read has no
    /// effect, and its new evaluation happens while the client waits.
    pub(crate) response_last: Option<Response>,
    /// The applied-command counter when a command last named this session;
    /// the measure of recency for eviction.
    pub(crate) used_last: u64,
    /// Who registered it: only commands on behalf of the same principal
    /// may use it. Session ids come from a counter, so without this rule a
    /// client could name another's session and be answered the reply kept
    /// for it (a value it may not read).
    pub(crate) owner: Principal,
}

/// A principal as one number, for fingerprints and snapshots: 0 for the
/// anonymous principal, a user's id plus 1 otherwise.
pub(crate) fn principal_number(principal: Principal) -> u64 {
    match principal {
        Principal::Anonymous => 0,
        Principal::User(id) => id.0.wrapping_add(1),
    }
}

/// The principal [`principal_number`] gave `number`.
pub(crate) fn principal_of_number(number: u64) -> Principal {
    match number.checked_sub(1) {
        None => Principal::Anonymous,
        Some(id) => Principal::User(crate::access::UserId(id)),
    }
}

impl Session {
    fn fingerprint(&self, id: SessionId) -> u64 {
        let mut fingerprint = Fingerprint::new(FINGERPRINT_DOMAIN_SESSION);
        fingerprint.write_u64(id.0);
        fingerprint.write_u64(self.sequence_last.0);
        fingerprint.write_u64(self.used_last);
        fingerprint.write_u64(principal_number(self.owner));
        match &self.response_last {
            None => fingerprint.write_u64(0),
            Some(response) => {
                fingerprint.write_u64(1);
                fingerprint.write_bytes(&response.encode());
            }
        }
        fingerprint.finish()
    }
}

/// What to do with a command tagged with a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admission {
    /// A new step of the session: apply it, then [`SessionTable::record`] it.
    Apply,
    /// A retry of the session's last command, which was a read: evaluate it
    /// again, and record nothing.
    EvaluateAgain,
    /// Do not apply: answer this instead.
    Answer(Response),
}

/// The sessions, bounded by `sessions_max`, evicting the least recently used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionTable {
    sessions_max: usize,
    sessions: BTreeMap<SessionId, Session>,
    /// Every session as `(used_last, id)`, so the first element is the one to
    /// evict: least recently used, and of those the lowest id.
    recency: BTreeSet<(u64, SessionId)>,
    /// The id the next registration gets. Ids are never reused, so a client
    /// holding an evicted id can never reach someone else's session.
    session_id_next: u64,
    sessions_evicted: u64,
    /// The wrapping sum of the fingerprints of all sessions.
    digest: u64,
}

impl SessionTable {
    pub(crate) fn new(sessions_max: usize) -> SessionTable {
        assert!(
            sessions_max > 0,
            "a store needs room for at least one session"
        );
        SessionTable {
            sessions_max,
            sessions: BTreeMap::new(),
            recency: BTreeSet::new(),
            // Id 0 is never handed out, so a zeroed id is always unknown.
            session_id_next: 1,
            sessions_evicted: 0,
            digest: 0,
        }
    }

    /// Rebuilds a table from the fields of a snapshot, checking that they
    /// describe a table this module could have produced.
    pub(crate) fn restore(
        sessions_max: usize,
        session_id_next: u64,
        sessions_evicted: u64,
        sessions: BTreeMap<SessionId, Session>,
        now: u64,
    ) -> Result<SessionTable, &'static str> {
        if sessions_max == 0 {
            return Err("the session limit is zero");
        }
        if sessions.len() > sessions_max {
            return Err("more sessions than the session limit");
        }
        if session_id_next == 0 {
            return Err("the next session id is zero");
        }
        let mut table = SessionTable::new(sessions_max);
        table.session_id_next = session_id_next;
        table.sessions_evicted = sessions_evicted;
        for (id, session) in sessions {
            if id.0 == 0 || id.0 >= session_id_next {
                return Err("a session id was never handed out");
            }
            if session.used_last > now {
                return Err("a session was used after the last applied command");
            }
            table.insert(id, session);
        }
        Ok(table)
    }

    /// Opens a session for `owner` at applied-command counter `now`,
    /// evicting the least recently used session first when the table is
    /// full.
    pub(crate) fn register(&mut self, now: u64, owner: Principal) -> SessionId {
        if self.sessions.len() == self.sessions_max {
            self.evict_least_recently_used();
        }
        let id = SessionId(self.session_id_next);
        self.session_id_next = self
            .session_id_next
            .checked_add(1)
            .expect("session ids run out after 2^64 registrations");
        let session = Session {
            sequence_last: Sequence(0),
            response_last: Some(Response::SessionRegistered(id)),
            used_last: now,
            owner,
        };
        self.insert(id, session);
        self.assert_bounded();
        id
    }

    /// Decides what to do with a command tagged `tag`, on behalf of
    /// `principal`, at applied-command counter `now`. Any command of its
    /// owner naming a known session, even a stale one, counts as a use of
    /// it: the client is evidently alive. Someone else's command learns
    /// nothing: it is told the session does not exist.
    pub(crate) fn admit(
        &mut self,
        tag: SessionTag,
        principal: Principal,
        operation_is_read: bool,
        now: u64,
    ) -> Admission {
        let Some(session) = self
            .sessions
            .get(&tag.session)
            .filter(|session| session.owner == principal)
        else {
            return Admission::Answer(Response::SessionExpired);
        };
        let admission = if tag.sequence > session.sequence_last {
            Admission::Apply
        } else if tag.sequence < session.sequence_last {
            Admission::Answer(Response::SequenceStale)
        } else {
            match &session.response_last {
                Some(response) => Admission::Answer(response.clone()),
                None if operation_is_read => Admission::EvaluateAgain,
                // The client reused a read's sequence for a write: the
                // sequence is spent, so refuse rather than guess.
                None => Admission::Answer(Response::SequenceStale),
            }
        };
        self.update(tag.session, |session| session.used_last = now);
        admission
    }

    /// Records the outcome of a command that [`SessionTable::admit`] let
    /// through with [`Admission::Apply`].
    pub(crate) fn record(&mut self, tag: SessionTag, operation_is_read: bool, response: Response) {
        self.update(tag.session, |session| {
            assert!(tag.sequence > session.sequence_last, "recorded twice");
            session.sequence_last = tag.sequence;
            session.response_last = (!operation_is_read).then_some(response);
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    pub(crate) fn sessions_max(&self) -> usize {
        self.sessions_max
    }

    pub(crate) fn session_id_next(&self) -> u64 {
        self.session_id_next
    }

    pub(crate) fn sessions_evicted(&self) -> u64 {
        self.sessions_evicted
    }

    pub(crate) fn digest(&self) -> u64 {
        self.digest
    }

    /// The sessions in id order, for snapshots.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&SessionId, &Session)> {
        self.sessions.iter()
    }

    /// Whether the session is known.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: SessionId) -> bool {
        self.sessions.contains_key(&id)
    }

    /// Checks every invariant, in time linear in the table: for tests and
    /// after a restore, not after every command.
    pub(crate) fn check_invariants(&self) -> Result<(), &'static str> {
        if self.sessions.len() > self.sessions_max {
            return Err("more sessions than the session limit");
        }
        let recency_expected: BTreeSet<(u64, SessionId)> = self
            .sessions
            .iter()
            .map(|(id, session)| (session.used_last, *id))
            .collect();
        if recency_expected != self.recency {
            return Err("the recency index disagrees with the sessions");
        }
        if self.sessions.keys().any(|id| id.0 >= self.session_id_next) {
            return Err("a session id was never handed out");
        }
        let digest_expected = self.sessions.iter().fold(0u64, |sum, (id, session)| {
            sum.wrapping_add(session.fingerprint(*id))
        });
        if digest_expected != self.digest {
            return Err("the session digest disagrees with the sessions");
        }
        Ok(())
    }

    fn evict_least_recently_used(&mut self) {
        let (_, id) = self
            .recency
            .pop_first()
            .expect("a full table has a least recently used session");
        let session = self.sessions.remove(&id).expect("indexed sessions exist");
        self.digest = self.digest.wrapping_sub(session.fingerprint(id));
        self.sessions_evicted += 1;
    }

    fn insert(&mut self, id: SessionId, session: Session) {
        self.digest = self.digest.wrapping_add(session.fingerprint(id));
        let inserted = self.recency.insert((session.used_last, id));
        assert!(inserted, "session {id:?} indexed twice");
        let previous = self.sessions.insert(id, session);
        assert!(previous.is_none(), "session {id:?} registered twice");
    }

    /// Changes one session, keeping the recency index and the digest in step.
    /// The only way sessions change after insertion, so the two cannot drift.
    fn update(&mut self, id: SessionId, change: impl FnOnce(&mut Session)) {
        let session = self
            .sessions
            .get_mut(&id)
            .expect("updating a known session");
        let fingerprint_before = session.fingerprint(id);
        let used_last_before = session.used_last;
        change(session);
        let fingerprint_after = session.fingerprint(id);
        let used_last_after = session.used_last;
        assert!(
            used_last_after >= used_last_before,
            "recency went backwards"
        );
        self.digest = self
            .digest
            .wrapping_sub(fingerprint_before)
            .wrapping_add(fingerprint_after);
        if used_last_after != used_last_before {
            let removed = self.recency.remove(&(used_last_before, id));
            assert!(removed, "session {id:?} missing from the recency index");
            self.recency.insert((used_last_after, id));
        }
    }

    fn assert_bounded(&self) {
        assert!(self.sessions.len() <= self.sessions_max);
        assert_eq!(self.sessions.len(), self.recency.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(session: SessionId, sequence: u64) -> SessionTag {
        SessionTag {
            session,
            sequence: Sequence(sequence),
        }
    }

    #[test]
    fn registration_hands_out_increasing_ids_from_one() {
        let mut table = SessionTable::new(4);
        assert_eq!(table.register(1, Principal::Anonymous), SessionId(1));
        assert_eq!(table.register(2, Principal::Anonymous), SessionId(2));
        assert_eq!(table.session_id_next(), 3);
        assert_eq!(table.check_invariants(), Ok(()));
    }

    #[test]
    fn eviction_takes_the_least_recently_used_session() {
        let mut table = SessionTable::new(2);
        let first = table.register(1, Principal::Anonymous);
        let second = table.register(2, Principal::Anonymous);
        // Using the first session makes the second the least recent.
        assert_eq!(
            table.admit(tag(first, 1), Principal::Anonymous, false, 3),
            Admission::Apply
        );
        table.record(tag(first, 1), false, Response::Stored(true));
        let third = table.register(4, Principal::Anonymous);
        assert!(table.contains(first));
        assert!(!table.contains(second));
        assert!(table.contains(third));
        assert_eq!(table.sessions_evicted(), 1);
        assert_eq!(table.check_invariants(), Ok(()));
    }

    #[test]
    fn eviction_breaks_ties_by_the_lowest_id() {
        // Ties cannot come from the store, whose counter grows with every
        // command, but the rule is defined for them all the same.
        let sessions = BTreeMap::from([
            (SessionId(5), session_used_at(7)),
            (SessionId(3), session_used_at(7)),
        ]);
        let mut table = SessionTable::restore(2, 6, 0, sessions, 7).unwrap();
        table.register(8, Principal::Anonymous);
        assert!(!table.contains(SessionId(3)));
        assert!(table.contains(SessionId(5)));
    }

    #[test]
    fn restore_rejects_tables_this_module_cannot_produce() {
        let one = |id| BTreeMap::from([(SessionId(id), session_used_at(1))]);
        assert!(SessionTable::restore(0, 2, 0, BTreeMap::new(), 1).is_err());
        assert!(SessionTable::restore(1, 2, 0, one(2), 1).is_err());
        assert!(SessionTable::restore(1, 2, 0, one(0), 1).is_err());
        assert!(SessionTable::restore(1, 2, 0, one(1), 0).is_err());
        assert!(SessionTable::restore(1, 0, 0, BTreeMap::new(), 1).is_err());
        let two = BTreeMap::from([
            (SessionId(1), session_used_at(1)),
            (SessionId(2), session_used_at(1)),
        ]);
        assert!(SessionTable::restore(1, 3, 0, two, 1).is_err());
        assert!(SessionTable::restore(1, 2, 0, one(1), 1).is_ok());
    }

    fn session_used_at(used_last: u64) -> Session {
        Session {
            owner: Principal::Anonymous,
            sequence_last: Sequence(0),
            response_last: None,
            used_last,
        }
    }
}
