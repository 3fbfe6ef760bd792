//! The failed-login brake: repeated failures are slowed down, never locked out.
//!
//! An online guesser tries passwords as fast as the server answers. The brake makes each guess
//! cost time: a few failures are free (typos happen), then every further attempt waits 1 s, 2 s,
//! 4 s ... up to 16 s before it gets its challenge. It never refuses the right password for good:
//! a lockout ("10 failures lock the account for 5 minutes") would be a weapon, since anyone can
//! fail on purpose and so lock any user out, or a whole classroom behind one NAT address. Here the
//! worst an attacker can do to someone else is make their login wait.
//!
//! *What* is counted decides who gets hurt, so there are two brakes, applied together:
//!
//! - **per account and address** (`alice` from `203.0.113.7`): someone guessing one password.
//!   An attempt counts as a failure from the moment it starts until it succeeds, so opening
//!   twenty connections at once buys no free guesses: each sees the ones before it. The attempts
//!   are also *spaced*: each takes the next free slot, its delay after the one before, so parallel
//!   connections cannot wait out their delays side by side. That is the guarantee: after the free
//!   failures, at most one guess per 16 s, 225 an hour, per account from one address. An attempt
//!   whose slot is more than 16 s away is told to try again later (nothing is counted). A
//!   success clears this count, for this account only.
//! - **per address**, whatever the account: someone trying a few passwords on many names
//!   ("password spraying"). Only attempts that *ended* in failure count, and a success does not
//!   clear them (otherwise logging in to your own account between guesses would reset the brake
//!   on everyone else's). Its numbers are looser (20 free), and its attempts are not spaced
//!   (each waits its own delay), because a whole classroom behind one NAT router shares one
//!   address, everyone makes typos, and nobody must wait for the others.
//!
//! So twenty students logging in at the same moment from one address are not slowed at all (each
//! account has one attempt in progress), while neither brake can be reset by the attacker.
//!
//! Both live in memory (a restart forgets them) and remember at most `max_tracked` keys each,
//! dropping the one whose last failure is oldest. IPv6 addresses are counted per /64 network,
//! because one machine usually holds a whole /64 and could otherwise use a new address per guess.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::users::valid_user_name;

/// The numbers of one brake. [`LoginPolicy`] holds the two a server uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardPolicy {
    /// Failures that cost nothing (typos happen).
    pub free_failures: u32,
    /// Delay before the first attempt after the free ones; it doubles with each further failure.
    pub first_delay: Duration,
    /// The delay never grows past this.
    pub max_delay: Duration,
    /// Attempts for one key take turns, each its delay after the one before (see the module
    /// doc); otherwise each attempt just waits its own delay.
    pub spaced: bool,
    /// A key with no failure for this long is forgotten.
    pub forget_after: Duration,
    /// Most keys remembered at once (memory stays bounded whatever an attacker does); when full,
    /// the key whose last failure is oldest is forgotten first.
    pub max_tracked: usize,
}

impl GuardPolicy {
    /// For one account from one address: 3 free failures, then 1 s, 2 s, 4 s ... up to 16 s,
    /// spaced.
    pub fn per_account() -> GuardPolicy {
        GuardPolicy {
            free_failures: 3,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(16),
            spaced: true,
            forget_after: Duration::from_secs(30 * 60),
            max_tracked: 10_000,
        }
    }

    /// For one address, any account: 20 free failures, then slowed like one account, but not
    /// spaced.
    pub fn per_address() -> GuardPolicy {
        GuardPolicy {
            free_failures: 20,
            spaced: false,
            ..GuardPolicy::per_account()
        }
    }

    /// A brake that never brakes (tests that are about something else).
    pub fn off() -> GuardPolicy {
        GuardPolicy {
            free_failures: u32::MAX,
            spaced: false,
            ..GuardPolicy::per_account()
        }
    }
}

/// The two brakes' numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPolicy {
    pub per_account: GuardPolicy,
    pub per_address: GuardPolicy,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            per_account: GuardPolicy::per_account(),
            per_address: GuardPolicy::per_address(),
        }
    }
}

/// What the guard says about a new login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardVerdict {
    /// Go ahead.
    Allow,
    /// Go ahead after sleeping this long (only this connection's thread sleeps).
    Delay(Duration),
    /// Not now: earlier attempts for this account hold the slots until then (nothing counted).
    Refuse(Duration),
}

impl GuardVerdict {
    /// The stricter of two verdicts: a refusal beats a delay, a longer wait beats a shorter one.
    fn stricter(self, other: GuardVerdict) -> GuardVerdict {
        use GuardVerdict::*;
        match (self, other) {
            (Refuse(a), Refuse(b)) => Refuse(a.max(b)),
            (Refuse(a), _) | (_, Refuse(a)) => Refuse(a),
            (Delay(a), Delay(b)) => Delay(a.max(b)),
            (Delay(a), Allow) | (Allow, Delay(a)) => Delay(a),
            (Allow, Allow) => Allow,
        }
    }
}

/// The failures counted against one key.
#[derive(Debug, Clone)]
struct Record {
    failures: u32,
    last_failure: Instant,
    /// The first moment the next spaced attempt may go ahead.
    next_slot: Instant,
}

/// One brake: failure counts per key, with the policy's delays and turns.
#[derive(Debug)]
struct Brake<K> {
    policy: GuardPolicy,
    records: HashMap<K, Record>,
}

impl<K: Hash + Eq + Clone> Brake<K> {
    fn new(policy: GuardPolicy) -> Brake<K> {
        Brake {
            policy,
            records: HashMap::new(),
        }
    }

    /// What this brake says about a new attempt for `key` (nothing is counted; a spaced brake
    /// hands out the attempt's slot).
    fn verdict(&mut self, key: &K, now: Instant) -> GuardVerdict {
        let policy = &self.policy;
        let Some(record) = self.records.get_mut(key) else {
            return GuardVerdict::Allow;
        };
        if now.saturating_duration_since(record.last_failure) >= policy.forget_after {
            record.failures = 0;
        }
        let delay = match record.failures.checked_sub(policy.free_failures) {
            None => Duration::ZERO,
            Some(extra) => {
                let factor = 1u32.checked_shl(extra.min(20)).unwrap_or(u32::MAX);
                policy
                    .first_delay
                    .checked_mul(factor)
                    .unwrap_or(policy.max_delay)
                    .min(policy.max_delay)
            }
        };
        let wait = if policy.spaced {
            let slot = record.next_slot.max(now);
            let ahead = slot - now;
            if ahead > policy.max_delay {
                return GuardVerdict::Refuse(ahead);
            }
            record.next_slot = slot + delay;
            ahead + delay
        } else {
            delay
        };
        if wait.is_zero() {
            GuardVerdict::Allow
        } else {
            GuardVerdict::Delay(wait)
        }
    }

    /// Counts one failure against `key`.
    fn count(&mut self, key: K, now: Instant) {
        if !self.records.contains_key(&key) {
            self.make_room(now);
        }
        let record = self.records.entry(key).or_insert(Record {
            failures: 0,
            last_failure: now,
            next_slot: now,
        });
        if now.saturating_duration_since(record.last_failure) >= self.policy.forget_after {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
    }

    fn forget(&mut self, key: &K) {
        self.records.remove(key);
    }

    fn failures(&self, key: &K) -> u32 {
        self.records.get(key).map_or(0, |r| r.failures)
    }

    /// Makes room for one more key: drops the forgotten ones, then if still full the one whose
    /// last failure is oldest.
    fn make_room(&mut self, now: Instant) {
        let max = self.policy.max_tracked.max(1);
        if self.records.len() < max {
            return;
        }
        let forget_after = self.policy.forget_after;
        self.records
            .retain(|_, r| now.saturating_duration_since(r.last_failure) < forget_after);
        while self.records.len() >= max {
            let Some(oldest) = self
                .records
                .iter()
                .min_by_key(|(_, r)| r.last_failure)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            self.records.remove(&oldest);
        }
    }
}

/// The two brakes, behind one lock.
#[derive(Debug)]
struct Brakes {
    /// Keyed by (address, claimed user name).
    accounts: Brake<(IpAddr, String)>,
    /// Keyed by address.
    addresses: Brake<IpAddr>,
}

/// The failed-login brake shared by all connections of a server (`Clone` shares it).
#[derive(Clone, Debug)]
pub struct LoginGuard {
    policy: LoginPolicy,
    brakes: Arc<Mutex<Brakes>>,
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard::new()
    }
}

impl LoginGuard {
    /// A guard with the default numbers (see [`GuardPolicy::per_account`] and
    /// [`GuardPolicy::per_address`]).
    pub fn new() -> LoginGuard {
        LoginGuard::with_policy(LoginPolicy::default())
    }

    /// A guard with other numbers.
    pub fn with_policy(policy: LoginPolicy) -> LoginGuard {
        let brakes = Brakes {
            accounts: Brake::new(policy.per_account.clone()),
            addresses: Brake::new(policy.per_address.clone()),
        };
        LoginGuard {
            policy,
            brakes: Arc::new(Mutex::new(brakes)),
        }
    }

    /// The numbers in use.
    pub fn policy(&self) -> &LoginPolicy {
        &self.policy
    }

    /// Called when a login attempt from `ip` for the claimed `user` starts: says whether and
    /// when it may go on, and (unless refused) counts it against the account until
    /// [`LoginGuard::succeeded`].
    pub fn begin(&self, ip: IpAddr, user: &str) -> GuardVerdict {
        self.begin_at(ip, user, Instant::now())
    }

    /// [`LoginGuard::begin`] at a given time (for tests).
    pub fn begin_at(&self, ip: IpAddr, user: &str, now: Instant) -> GuardVerdict {
        let account = account_key(ip, user);
        let mut brakes = self.lock();
        let by_address = brakes.addresses.verdict(&guard_key(ip), now);
        let by_account = brakes.accounts.verdict(&account, now);
        let verdict = by_address.stricter(by_account);
        if !matches!(verdict, GuardVerdict::Refuse(_)) {
            brakes.accounts.count(account, now);
        }
        verdict
    }

    /// Called when an attempt from `ip` ended in failure (a wrong proof, a malformed frame).
    pub fn failed(&self, ip: IpAddr) {
        self.failed_at(ip, Instant::now());
    }

    /// [`LoginGuard::failed`] at a given time (for tests).
    pub fn failed_at(&self, ip: IpAddr, now: Instant) {
        self.lock().addresses.count(guard_key(ip), now);
    }

    /// Called after a successful login: forgets the failures of this account from this address
    /// (not those of the address: see the module doc).
    pub fn succeeded(&self, ip: IpAddr, user: &str) {
        self.lock().accounts.forget(&account_key(ip, user));
    }

    /// Failures counted against `user` from `ip`, attempts in progress included (for tests).
    pub fn account_failures(&self, ip: IpAddr, user: &str) -> u32 {
        self.lock().accounts.failures(&account_key(ip, user))
    }

    /// Failed attempts counted against `ip`, any account (for tests).
    pub fn address_failures(&self, ip: IpAddr) -> u32 {
        self.lock().addresses.failures(&guard_key(ip))
    }

    /// How many keys each brake remembers: (accounts, addresses). For tests: never more than
    /// `max_tracked`.
    pub fn tracked(&self) -> (usize, usize) {
        let brakes = self.lock();
        (
            brakes.accounts.records.len(),
            brakes.addresses.records.len(),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Brakes> {
        // Every change is a whole insert, update or removal: a panic elsewhere cannot leave the
        // counts half-changed, so a poisoned lock is still usable.
        self.brakes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The account key: the address, and the claimed name if it is a valid user name. Anything else
/// (a 60 KiB "name", a number) shares one bucket, so an attacker cannot fill memory with names.
fn account_key(ip: IpAddr, user: &str) -> (IpAddr, String) {
    let user = if valid_user_name(user) { user } else { "" };
    (guard_key(ip), user.to_string())
}

/// The address a failure is counted against: IPv4 as is (also when written as an IPv4-mapped
/// IPv6 address), IPv6 by its /64 network.
fn guard_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    fn tiny() -> GuardPolicy {
        GuardPolicy {
            free_failures: 2,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(25),
            spaced: true,
            forget_after: Duration::from_secs(600),
            max_tracked: 3,
        }
    }

    /// The account brake tiny, the address brake off.
    fn account_only() -> LoginGuard {
        LoginGuard::with_policy(LoginPolicy {
            per_account: tiny(),
            per_address: GuardPolicy::off(),
        })
    }

    /// The address brake tiny, the account brake off.
    fn address_only() -> LoginGuard {
        LoginGuard::with_policy(LoginPolicy {
            per_account: GuardPolicy::off(),
            per_address: GuardPolicy {
                spaced: false,
                ..tiny()
            },
        })
    }

    #[test]
    fn one_account_is_free_then_slowed_and_spaced_never_locked_and_success_resets_it() {
        let guard = account_only();
        let now = Instant::now();
        let ms = Duration::from_millis;
        // Five attempts at the same moment (parallel connections): two free, then each waits
        // for its slot, its delay after the one before; one whose slot is more than the
        // largest delay away is told to come back, and is not counted.
        let verdicts: Vec<_> = (0..5)
            .map(|_| guard.begin_at(ip(1), "alice", now))
            .collect();
        assert_eq!(
            verdicts,
            [
                GuardVerdict::Allow,
                GuardVerdict::Allow,
                GuardVerdict::Delay(ms(10)),
                GuardVerdict::Delay(ms(30)), // slot at +10, then its own 20
                GuardVerdict::Refuse(ms(30)), // next slot at +30 > 25 ahead
            ]
        );
        assert_eq!(guard.account_failures(ip(1), "alice"), 4);
        // Another account, or the same account from another address, is not affected.
        assert_eq!(guard.begin_at(ip(1), "bob", now), GuardVerdict::Allow);
        assert_eq!(guard.begin_at(ip(2), "alice", now), GuardVerdict::Allow);
        // Later, one at a time: slowed (capped), never refused, however many failures.
        for i in 1..=20 {
            let later = now + Duration::from_secs(i);
            assert_eq!(
                guard.begin_at(ip(1), "alice", later),
                GuardVerdict::Delay(ms(25))
            );
        }
        guard.succeeded(ip(1), "alice");
        assert_eq!(guard.account_failures(ip(1), "alice"), 0);
        assert_eq!(
            guard.begin_at(ip(1), "alice", now + Duration::from_secs(30)),
            GuardVerdict::Allow
        );
    }

    #[test]
    fn many_accounts_from_one_address_at_once_are_not_slowed() {
        let guard = LoginGuard::new();
        let now = Instant::now();
        for i in 0..20 {
            let user = format!("student{i:02}");
            assert_eq!(guard.begin_at(ip(1), &user, now), GuardVerdict::Allow);
        }
        for i in 0..20 {
            guard.succeeded(ip(1), &format!("student{i:02}"));
        }
        assert_eq!(guard.tracked().0, 0);
    }

    #[test]
    fn the_address_brake_counts_ended_failures_and_success_does_not_reset_it() {
        let guard = address_only();
        let now = Instant::now();
        // Attempts in progress do not count against the address...
        for user in ["a", "b", "c", "d"] {
            assert_eq!(guard.begin_at(ip(1), user, now), GuardVerdict::Allow);
        }
        // ...failures do, whatever the account, and a success in between changes nothing.
        guard.failed_at(ip(1), now);
        guard.failed_at(ip(1), now);
        guard.succeeded(ip(1), "mallory");
        assert_eq!(
            guard.begin_at(ip(1), "e", now),
            GuardVerdict::Delay(Duration::from_millis(10))
        );
        for _ in 0..30 {
            guard.failed_at(ip(1), now);
        }
        // Never refused, never spaced: every attempt waits at most the largest delay.
        for _ in 0..3 {
            assert_eq!(
                guard.begin_at(ip(1), "mallory", now),
                GuardVerdict::Delay(Duration::from_millis(25))
            );
        }
        assert_eq!(guard.begin_at(ip(2), "mallory", now), GuardVerdict::Allow);
    }

    #[test]
    fn old_failures_are_forgotten_and_memory_stays_bounded() {
        let guard = LoginGuard::with_policy(LoginPolicy {
            per_account: tiny(),
            per_address: tiny(),
        });
        let now = Instant::now();
        for _ in 0..4 {
            guard.begin_at(ip(1), "alice", now);
        }
        assert_eq!(
            guard.begin_at(ip(1), "alice", now + Duration::from_secs(601)),
            GuardVerdict::Allow
        );
        for last in 10..60 {
            let later = now + Duration::from_secs(u64::from(last));
            guard.begin_at(ip(last), "alice", later);
            guard.failed_at(ip(last), later);
            assert!(guard.tracked().0 <= 3 && guard.tracked().1 <= 3);
        }
        // The newest keys are the ones kept.
        assert_eq!(guard.account_failures(ip(59), "alice"), 1);
        assert_eq!(guard.account_failures(ip(10), "alice"), 0);
        // Junk names share one bucket.
        let junk = "x".repeat(60_000);
        guard.begin_at(ip(59), &junk, now + Duration::from_secs(60));
        assert_eq!(guard.account_failures(ip(59), "../etc"), 1);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let guard = address_only();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        guard.failed(a);
        guard.failed(b);
        assert_eq!(guard.address_failures(a), 2);
        assert_eq!(guard.address_failures(other), 0);
        let mapped: IpAddr = "::ffff:127.0.0.7".parse().unwrap();
        guard.failed(mapped);
        assert_eq!(guard.address_failures(ip(7)), 1);
    }
}
