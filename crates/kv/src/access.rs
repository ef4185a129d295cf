//! Access control: the users, their passwords and their rights, as part of
//! the replicated state.
//!
//! Users live in the store, so they are changed through the log like keys
//! are: a change is linearizable, survives restarts, travels in snapshots,
//! and every replica enforces the same rules at the same log position. The
//! rights are checked where the command is applied ([`AccessControl::check`],
//! called by the store for every command and every read), not where it was
//! received: a command that reaches the log after a change is judged by the
//! new rules on every replica, and a read served after the change was
//! acknowledged (the read index covers it) is judged by them too. A node
//! that lags behind cannot let a revoked right through, because it serves
//! nothing from a state older than what was acknowledged, with one
//! exception a client asks for by name: `READONLY` (stale) reads are
//! judged by the rights of the state they are served from, as stale as
//! their values.
//!
//! A session belongs to the principal that registered it
//! (`crate::session`): another principal naming it is told it does not
//! exist, so it can neither read the answer kept for a retry nor write
//! under it.
//!
//! The model follows Redis's ACL users, cut to what synod has:
//!
//! * **Users** have a name, an on/off switch (off: nobody can authenticate
//!   as them; connections already authenticated keep working, as in Redis),
//!   passwords, command categories and key patterns.
//! * **Categories** are `read`, `write` and `admin` (managing users and the
//!   server). Commands about the connection (`PING`, `AUTH`, `HELLO`, …)
//!   belong to none and are always allowed to an authenticated client.
//! * **Key patterns** are Redis glob patterns; a command may touch only keys
//!   that match one of them. Commands over the whole keyspace (`KEYS`,
//!   `SCAN`, `RANDOMKEY`, `FLUSHALL`) need the pattern `*` (`allkeys`):
//!   stricter than Redis, which lets them through whatever the patterns.
//! * **Passwords** are kept only as salted hashes ([`PasswordHash`]); the
//!   node that receives `ACL SETUSER` hashes them before proposing, so no
//!   password is ever written to the log. This crate never hashes (it draws
//!   no random numbers): the server does, and checks a password against
//!   the hashes the store answers.
//! * **The default user** (id 0) always exists. It starts on, without a
//!   password (`nopass`) and with every right, which is Redis's default and
//!   means a cluster without users is open. Giving it a password is Redis's
//!   `requirepass`.
//!
//! A connection that never authenticated acts as [`Principal::Anonymous`]:
//! the default user, allowed only while that user is on and needs no
//! password. The check refuses it otherwise, so setting a password is
//! enforced for every command that reaches the store after it.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::command::Operation;
use crate::fingerprint::Fingerprint;
use crate::pattern;

pub(crate) mod encoding;

pub use encoding::{check_user_name, decode_users, encode_users};

/// The most users a cluster may have, the default user included. Every
/// replica keeps them all in memory and checks rights against them.
pub const USERS_MAX: usize = 1024;
/// The longest user name, in bytes.
pub const USER_NAME_SIZE_MAX_BYTES: usize = 256;
/// The most passwords one user may have (Redis allows several, so that a
/// password can be rotated without a moment where none works).
pub const PASSWORDS_PER_USER_MAX: usize = 16;
/// The most key patterns one user may have.
pub const KEY_PATTERNS_PER_USER_MAX: usize = 64;
/// The longest key pattern, in bytes.
pub const KEY_PATTERN_SIZE_MAX_BYTES: usize = 1024;
/// The most rules one `ACL SETUSER` may carry.
pub const RULES_PER_CHANGE_MAX: usize = 256;
/// The most names one `ACL DELUSER` may carry.
pub const NAMES_PER_CHANGE_MAX: usize = 256;
/// The longest salt of a password hash, in bytes.
pub const PASSWORD_SALT_SIZE_MAX_BYTES: usize = 64;
/// The size of a password hash's digest, in bytes (SHA-256).
pub const PASSWORD_DIGEST_SIZE_BYTES: usize = 32;

/// The name of the user that always exists.
pub const DEFAULT_USER_NAME: &[u8] = b"default";

const FINGERPRINT_DOMAIN_USER: u64 = 0x7573_6572; // "user"

/// A user's number: assigned by the store from a counter, never reused, so
/// that a connection authenticated as a removed user is not taken for a new
/// user of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(pub u64);

impl UserId {
    /// The default user's id.
    pub const DEFAULT: UserId = UserId(0);
}

/// On whose behalf a command runs: it decides which rights are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Principal {
    /// A connection that has not authenticated: the default user, as long
    /// as it is on and needs no password. Log entries written before users
    /// existed decode as this, and were allowed then.
    #[default]
    Anonymous,
    /// A connection that authenticated as this user.
    User(UserId),
}

/// A family of commands a user may be allowed to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Commands that only read keys.
    Read,
    /// Commands that change keys.
    Write,
    /// Managing users, and the server's information and configuration.
    Admin,
}

impl Category {
    /// Every category, in the order `ACL CAT` lists them.
    pub const ALL: [Category; 3] = [Category::Read, Category::Write, Category::Admin];

    /// The name `ACL` rules and `ACL CAT` use.
    pub fn name(self) -> &'static str {
        match self {
            Category::Read => "read",
            Category::Write => "write",
            Category::Admin => "admin",
        }
    }

    /// The category a name stands for (any case).
    pub fn from_name(name: &[u8]) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|category| category.name().as_bytes().eq_ignore_ascii_case(name))
    }

    fn bit(self) -> u8 {
        match self {
            Category::Read => 1,
            Category::Write => 2,
            Category::Admin => 4,
        }
    }
}

/// A set of categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Categories(u8);

impl Categories {
    /// No category.
    pub const NONE: Categories = Categories(0);
    /// Every category (`+@all`).
    pub const ALL: Categories = Categories(1 | 2 | 4);

    /// The set of one category.
    pub fn of(category: Category) -> Categories {
        Categories(category.bit())
    }

    /// Whether the set holds `category`.
    pub fn contains(self, category: Category) -> bool {
        self.0 & category.bit() != 0
    }

    /// The union.
    #[must_use]
    pub fn with(self, other: Categories) -> Categories {
        Categories(self.0 | other.0)
    }

    /// The set without `other`'s categories.
    #[must_use]
    pub fn without(self, other: Categories) -> Categories {
        Categories(self.0 & !other.0)
    }

    /// The bits, for the encoding.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The set the bits stand for; `None` for unknown bits.
    pub fn from_bits(bits: u8) -> Option<Categories> {
        (bits & !Categories::ALL.0 == 0).then_some(Categories(bits))
    }
}

/// A password as the store keeps it: PBKDF2-HMAC-SHA256 of the password
/// with a random salt. The server computes and verifies it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PasswordHash {
    /// PBKDF2's iteration count.
    pub iterations: u32,
    /// The salt, at most [`PASSWORD_SALT_SIZE_MAX_BYTES`].
    pub salt: Bytes,
    /// The derived key, [`PASSWORD_DIGEST_SIZE_BYTES`] long.
    pub digest: Bytes,
}

/// One user and its rights.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct User {
    /// The user's number.
    pub id: UserId,
    /// The name clients authenticate with.
    pub name: Bytes,
    /// Whether one may authenticate as the user (`on` / `off`).
    pub enabled: bool,
    /// Any password authenticates the user (`nopass`).
    pub no_password: bool,
    /// The passwords that authenticate the user.
    pub passwords: Vec<PasswordHash>,
    /// The categories of commands the user may run.
    pub categories: Categories,
    /// The keys the user may touch: glob patterns, in the order added.
    pub key_patterns: Vec<Bytes>,
}

impl User {
    /// A new user as Redis makes one: off, no password, no rights.
    fn new(id: UserId, name: Bytes) -> User {
        User {
            id,
            name,
            enabled: false,
            no_password: false,
            passwords: Vec::new(),
            categories: Categories::NONE,
            key_patterns: Vec::new(),
        }
    }

    /// The default user as a new cluster has it: on, no password, every
    /// right.
    fn default_user() -> User {
        User {
            id: UserId::DEFAULT,
            name: Bytes::from_static(DEFAULT_USER_NAME),
            enabled: true,
            no_password: true,
            passwords: Vec::new(),
            categories: Categories::ALL,
            key_patterns: vec![Bytes::from_static(b"*")],
        }
    }

    /// Whether the user may touch every key.
    pub fn all_keys(&self) -> bool {
        self.key_patterns
            .iter()
            .any(|pattern| pattern.as_ref() == b"*")
    }

    /// Whether the user may touch `key`.
    pub fn may_touch(&self, key: &[u8]) -> bool {
        self.key_patterns
            .iter()
            .any(|pattern| pattern::matches(pattern, key))
    }

    fn apply(&mut self, rule: &Rule) {
        match rule {
            Rule::On => self.enabled = true,
            Rule::Off => self.enabled = false,
            Rule::NoPassword => {
                self.no_password = true;
                self.passwords.clear();
            }
            Rule::ResetPasswords => {
                self.no_password = false;
                self.passwords.clear();
            }
            Rule::AddPassword(hash) => {
                self.no_password = false;
                self.passwords.push(hash.clone());
            }
            Rule::RemovePassword(hash) => self.passwords.retain(|kept| kept != hash),
            Rule::Allow(categories) => self.categories = self.categories.with(*categories),
            Rule::Deny(categories) => self.categories = self.categories.without(*categories),
            Rule::AddKeyPattern(key_pattern) => {
                if !self.key_patterns.contains(key_pattern) {
                    self.key_patterns.push(key_pattern.clone());
                }
            }
            Rule::ResetKeys => self.key_patterns.clear(),
            Rule::Reset => {
                self.enabled = false;
                self.no_password = false;
                self.passwords.clear();
                self.categories = Categories::NONE;
                self.key_patterns.clear();
            }
        }
    }

    fn fingerprint(&self) -> u64 {
        let mut fingerprint = Fingerprint::new(FINGERPRINT_DOMAIN_USER);
        fingerprint.write_bytes(&encode_users(std::slice::from_ref(self)));
        fingerprint.finish()
    }
}

/// One change to a user, as `ACL SETUSER` names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `on`.
    On,
    /// `off`.
    Off,
    /// `nopass`: any password, and the user's passwords are forgotten.
    NoPassword,
    /// `resetpass`: no password, and not `nopass`.
    ResetPasswords,
    /// `>password`, hashed by the node that received it.
    AddPassword(PasswordHash),
    /// `<password`, as the hash it matched when the node looked it up.
    RemovePassword(PasswordHash),
    /// `+@category`, `+@all`, `allcommands`.
    Allow(Categories),
    /// `-@category`, `-@all`, `nocommands`.
    Deny(Categories),
    /// `~pattern`, `allkeys` (the pattern `*`).
    AddKeyPattern(Bytes),
    /// `resetkeys`.
    ResetKeys,
    /// `reset`: off, no password, no rights.
    Reset,
}

/// The operations on users, carried by [`Operation::Access`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccessOperation {
    /// `ACL SETUSER`: create the user if it does not exist (off, no
    /// rights), then apply the rules in order, all or none.
    SetUser {
        /// The user's name.
        name: Bytes,
        /// The changes.
        rules: Vec<Rule>,
    },
    /// `ACL DELUSER`: remove users; answers how many existed. The default
    /// user cannot be removed.
    DeleteUsers {
        /// The names.
        names: Vec<Bytes>,
    },
    /// `ACL LIST`, `ACL USERS`: every user, by name.
    ListUsers,
    /// `ACL GETUSER`: one user, or none.
    ReadUser {
        /// The name.
        name: Bytes,
    },
    /// One user's record, to check a password against (`AUTH`). Allowed to
    /// anyone, because only the server asks it: no client command maps to
    /// it, and the server never shows the answer to the client.
    Credentials {
        /// The name.
        name: Bytes,
    },
    /// Whether the principal may run a command of this category that the
    /// node answers itself (`INFO`, `CONFIG`): a read through the log or
    /// the read index, so the answer reflects every acknowledged change.
    Authorize {
        /// The category.
        category: Category,
    },
}

impl AccessOperation {
    /// Whether the operation only reads.
    pub fn is_read(&self) -> bool {
        !matches!(
            self,
            AccessOperation::SetUser { .. } | AccessOperation::DeleteUsers { .. }
        )
    }

    /// The category a principal needs to run it.
    fn category(&self) -> Option<Category> {
        match self {
            AccessOperation::Credentials { .. } => None,
            AccessOperation::Authorize { category } => Some(*category),
            _ => Some(Category::Admin),
        }
    }
}

/// Why a command was not run for its principal; the server words it as
/// Redis does (`-NOAUTH`, `-NOPERM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Denial {
    /// An anonymous connection, but the default user needs a password or is
    /// off.
    AuthenticationRequired,
    /// The user may not run commands of this category.
    Category(Category),
    /// The command touches a key the user's patterns do not allow.
    Key,
    /// The user was removed after the connection authenticated.
    UserRemoved,
}

/// Why a user change was refused; nothing of it took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessRefusal {
    /// There are [`USERS_MAX`] users already.
    UsersFull,
    /// The default user cannot be removed.
    DefaultUserUndeletable,
    /// The user would have more than [`PASSWORDS_PER_USER_MAX`] passwords or
    /// [`KEY_PATTERNS_PER_USER_MAX`] key patterns.
    UserTooLarge,
}

/// The users of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessControl {
    users: BTreeMap<UserId, User>,
    user_id_next: u64,
    /// Whether an anonymous connection may do everything: the check's fast
    /// path, kept up to date on every change.
    anonymous_unrestricted: bool,
    /// The users' fingerprint, kept up to date on every change.
    digest: u64,
}

impl Default for AccessControl {
    fn default() -> AccessControl {
        AccessControl::from_users(vec![User::default_user()], 1)
            .expect("the initial users are consistent")
    }
}

impl AccessControl {
    /// Users restored from a snapshot.
    ///
    /// # Errors
    ///
    /// When they describe a state no change produces.
    pub(crate) fn from_users(
        users: Vec<User>,
        user_id_next: u64,
    ) -> Result<AccessControl, &'static str> {
        let count = users.len();
        let mut control = AccessControl {
            users: users.into_iter().map(|user| (user.id, user)).collect(),
            user_id_next,
            anonymous_unrestricted: false,
            digest: 0,
        };
        if control.users.len() != count {
            return Err("two users share an id");
        }
        control.check_invariants()?;
        control.refresh();
        Ok(control)
    }

    /// Every user, in id order.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// The next user id to assign.
    pub fn user_id_next(&self) -> u64 {
        self.user_id_next
    }

    /// The user of that name.
    pub fn user_named(&self, name: &[u8]) -> Option<&User> {
        self.users.values().find(|user| user.name.as_ref() == name)
    }

    /// Whether a connection must authenticate before it may run anything:
    /// the default user is off or needs a password.
    pub fn authentication_required(&self) -> bool {
        let default = &self.users[&UserId::DEFAULT];
        !(default.enabled && default.no_password)
    }

    /// A fingerprint of the users, for the store's digest.
    pub(crate) fn digest(&self) -> u64 {
        self.digest
    }

    /// Whether `principal` may run `operation`: the rule every replica
    /// applies, to every command and every read, in one place.
    ///
    /// # Errors
    ///
    /// Why not.
    pub fn check(&self, principal: Principal, operation: &Operation) -> Result<(), Denial> {
        if principal == Principal::Anonymous && self.anonymous_unrestricted {
            return Ok(());
        }
        // What authenticating needs, and the leader's clock, which no
        // client may send (the node refuses it).
        if matches!(
            operation,
            Operation::Access(AccessOperation::Credentials { .. }) | Operation::AdvanceClock { .. }
        ) {
            return Ok(());
        }
        let user = match principal {
            Principal::Anonymous => {
                if self.authentication_required() {
                    return Err(Denial::AuthenticationRequired);
                }
                &self.users[&UserId::DEFAULT]
            }
            Principal::User(id) => self.users.get(&id).ok_or(Denial::UserRemoved)?,
        };
        check_rights(user, operation)
    }

    /// Applies a change of users.
    pub(crate) fn change(&mut self, operation: &AccessOperation) -> Result<u64, AccessRefusal> {
        let answer = match operation {
            AccessOperation::SetUser { name, rules } => {
                let existing = self.user_named(name).cloned();
                let mut user = match existing {
                    Some(user) => user,
                    None if self.users.len() >= USERS_MAX => return Err(AccessRefusal::UsersFull),
                    None => User::new(UserId(self.user_id_next), name.clone()),
                };
                for rule in rules {
                    user.apply(rule);
                }
                if user.passwords.len() > PASSWORDS_PER_USER_MAX
                    || user.key_patterns.len() > KEY_PATTERNS_PER_USER_MAX
                {
                    return Err(AccessRefusal::UserTooLarge);
                }
                if user.id.0 == self.user_id_next {
                    self.user_id_next += 1;
                }
                self.users.insert(user.id, user);
                1
            }
            AccessOperation::DeleteUsers { names } => {
                if names.iter().any(|name| name.as_ref() == DEFAULT_USER_NAME) {
                    return Err(AccessRefusal::DefaultUserUndeletable);
                }
                let before = self.users.len();
                self.users.retain(|_, user| !names.contains(&user.name));
                (before - self.users.len()) as u64
            }
            AccessOperation::ListUsers
            | AccessOperation::ReadUser { .. }
            | AccessOperation::Credentials { .. }
            | AccessOperation::Authorize { .. } => {
                unreachable!("reads do not change the users")
            }
        };
        self.refresh();
        Ok(answer)
    }

    /// Recomputes what is derived from the users.
    fn refresh(&mut self) {
        let default = &self.users[&UserId::DEFAULT];
        self.anonymous_unrestricted = !self.authentication_required()
            && default.categories == Categories::ALL
            && default.all_keys();
        self.digest = self
            .users
            .values()
            .map(User::fingerprint)
            .fold(self.user_id_next, u64::wrapping_add);
    }

    /// The invariants: the default user exists, ids are below the counter,
    /// names are unique and within the limits.
    pub(crate) fn check_invariants(&self) -> Result<(), &'static str> {
        if self
            .users
            .get(&UserId::DEFAULT)
            .is_none_or(|user| user.name.as_ref() != DEFAULT_USER_NAME)
        {
            return Err("the default user is missing");
        }
        if self.users.len() > USERS_MAX {
            return Err("more users than the limit");
        }
        let mut names: Vec<&Bytes> = self.users.values().map(|user| &user.name).collect();
        names.sort();
        names.dedup();
        if names.len() != self.users.len() {
            return Err("two users share a name");
        }
        if self.users.keys().any(|id| id.0 >= self.user_id_next.max(1)) {
            return Err("a user id is not below the next one");
        }
        Ok(())
    }
}

/// Whether `user` may run `operation`: its category, then every key it
/// touches.
fn check_rights(user: &User, operation: &Operation) -> Result<(), Denial> {
    if let Operation::Transaction { operations, .. } = operation {
        return operations
            .iter()
            .try_for_each(|operation| check_rights(user, operation));
    }
    if let Some(category) = operation.category() {
        if !user.categories.contains(category) {
            return Err(Denial::Category(category));
        }
    }
    if user.all_keys() {
        return Ok(());
    }
    match operation.keys_touched() {
        KeysTouched::All => Err(Denial::Key),
        KeysTouched::These(keys) => {
            if keys.iter().all(|key| user.may_touch(key)) {
                Ok(())
            } else {
                Err(Denial::Key)
            }
        }
    }
}

/// The keys an operation touches, for the key patterns.
pub(crate) enum KeysTouched<'operation> {
    /// Every key, or any key (`KEYS`, `FLUSHALL`).
    All,
    /// These keys.
    These(Vec<&'operation Bytes>),
}

impl Operation {
    /// The category a principal needs to run the operation; `None` for
    /// those a client may not send (the node's clock) or that every client
    /// needs (a session).
    pub fn category(&self) -> Option<Category> {
        match self {
            Operation::RegisterSession | Operation::AdvanceClock { .. } => None,
            Operation::Access(access) => access.category(),
            other if other.is_read() => Some(Category::Read),
            _ => Some(Category::Write),
        }
    }

    fn keys_touched(&self) -> KeysTouched<'_> {
        match self {
            Operation::Get { key }
            | Operation::Contains { key }
            | Operation::Set { key, .. }
            | Operation::Remove { key }
            | Operation::IncrementBy { key, .. }
            | Operation::Exchange { key, .. }
            | Operation::Take { key }
            | Operation::Append { key, .. }
            | Operation::SetExpiring { key, .. }
            | Operation::Expire { key, .. }
            | Operation::Persist { key }
            | Operation::ReadExpiry { key }
            | Operation::GetAndExpire { key, .. }
            | Operation::SetRange { key, .. }
            | Operation::IncrementByFloat { key, .. } => KeysTouched::These(vec![key]),
            Operation::RemoveMany { keys }
            | Operation::CountExisting { keys }
            | Operation::ReadVersions { keys }
            | Operation::GetMany { keys } => KeysTouched::These(keys.iter().collect()),
            Operation::SetMany { pairs, .. } => {
                KeysTouched::These(pairs.iter().map(|(key, _)| key).collect())
            }
            Operation::Rename { from, to, .. } | Operation::Copy { from, to, .. } => {
                KeysTouched::These(vec![from, to])
            }
            Operation::Transaction { operations, .. } => {
                let mut keys = Vec::new();
                for operation in operations {
                    match operation.keys_touched() {
                        KeysTouched::All => return KeysTouched::All,
                        KeysTouched::These(more) => keys.extend(more),
                    }
                }
                KeysTouched::These(keys)
            }
            Operation::Flush
            | Operation::Keys { .. }
            | Operation::Scan { .. }
            | Operation::RandomKey { .. } => KeysTouched::All,
            Operation::CountKeys
            | Operation::RegisterSession
            | Operation::AdvanceClock { .. }
            | Operation::Access(_) => KeysTouched::These(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests;
