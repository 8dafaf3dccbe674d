//! Checks against slow (Django password) hashes: their queue, and the
//! pipeline's step that waits for one.

use std::{sync::Arc, time::SystemTime};

use super::{verdict::Owed, Authenticator, Decision};
use crate::{
    error::{AuthFailure, Chain},
    hash::Hasher,
    key::{ApiKey, Prefix},
    store::KeyRecord,
};

/// The bound on checks against slow (Django password) hashes: so many at
/// once on the blocking pool, each request waiting so long at most for its
/// turn, and one check of a key at a time, its requests queued in order.
pub(super) struct SlowChecks {
    pub(super) permits: Arc<tokio::sync::Semaphore>,
    pub(super) wait: std::time::Duration,
    pub(super) turns: KeyTurns,
}

/// The queues of requests waiting to check a key's slow hash.
///
/// One check of a key runs at a time, so a flood of guesses at one key holds
/// one of the pool's permits, not all of them. The key's other requests wait
/// their turn: first those from addresses with no failed attempt on record, in
/// the order they came, then those from addresses that have failed (the
/// guessers), so a key's holder waits behind other clean requests only, never
/// behind the guesses of addresses the throttle has seen fail. A key's entry
/// lives while a request waits for or holds its turn.
#[derive(Clone, Default)]
pub(super) struct KeyTurns(Arc<std::sync::Mutex<std::collections::HashMap<Prefix, KeyQueue>>>);

#[derive(Default)]
pub(super) struct KeyQueue {
    /// Whether a request holds the turn.
    busy: bool,
    /// Waiters from addresses with no failure on record, and from the rest:
    /// the turn goes to the first of `clean`, else of `suspect`. A waiter
    /// that left has a closed sender, skipped when its turn comes.
    clean: std::collections::VecDeque<tokio::sync::oneshot::Sender<()>>,
    suspect: std::collections::VecDeque<tokio::sync::oneshot::Sender<()>>,
    /// Requests waiting for or holding the turn: the entry goes at zero.
    members: usize,
}

impl KeyQueue {
    /// Hands the turn to the next waiter still there, or frees it.
    pub(super) fn pass_on(&mut self) {
        while let Some(next) = self.clean.pop_front().or_else(|| self.suspect.pop_front()) {
            if next.send(()).is_ok() {
                return;
            }
        }
        self.busy = false;
    }
}

impl KeyTurns {
    pub(super) fn queues(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<Prefix, KeyQueue>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a place in `prefix`'s queue, among the clean requests or the
    /// suspect ones.
    pub(super) fn join(&self, prefix: Prefix, clean: bool) -> KeyTurn {
        self.queues().entry(prefix).or_default().members += 1;
        KeyTurn {
            turns: self.clone(),
            prefix,
            clean,
            called: None,
            held: false,
        }
    }

    /// Keys with a request waiting for or holding a turn.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.queues().len()
    }
}

/// A request's place in its key's queue, holding the turn once
/// [`wait`](Self::wait) returns.
///
/// Dropped, wherever that happens (the check ended, the request gave up
/// waiting, its client hung up), it passes the turn on if it held it or had
/// just been given it, and leaves the queue.
pub(super) struct KeyTurn {
    turns: KeyTurns,
    prefix: Prefix,
    clean: bool,
    /// Where the turn arrives, while waiting for it.
    called: Option<tokio::sync::oneshot::Receiver<()>>,
    held: bool,
}

impl KeyTurn {
    pub(super) async fn wait(&mut self) {
        let called = {
            let mut queues = self.turns.queues();
            let queue = queues.entry(self.prefix).or_default();
            if !queue.busy {
                queue.busy = true;
                self.held = true;
                return;
            }
            let (call, called) = tokio::sync::oneshot::channel();
            if self.clean {
                queue.clean.push_back(call);
            } else {
                queue.suspect.push_back(call);
            }
            self.called.insert(called)
        };
        // The sender goes only with the queue entry, which lives while this
        // request is a member: the turn comes, or the wait is cut short.
        if called.await.is_ok() {
            self.called = None;
            self.held = true;
        }
    }
}

impl Drop for KeyTurn {
    fn drop(&mut self) {
        let mut queues = self.turns.queues();
        let Some(queue) = queues.get_mut(&self.prefix) else {
            return;
        };
        // Given the turn as it gave up: it must pass it on all the same.
        let handed = self
            .called
            .as_mut()
            .is_some_and(|called| called.try_recv().is_ok());
        if self.held || handed {
            queue.pass_on();
        } else if queue.clean.len() + queue.suspect.len() > 2 * queue.members {
            // Waiters that left stay until their turn comes round; past
            // twice the members, they go now, so the queue stays bounded.
            queue.clean.retain(|call| !call.is_closed());
            queue.suspect.retain(|call| !call.is_closed());
        }
        queue.members -= 1;
        if queue.members == 0 {
            queues.remove(&self.prefix);
        }
    }
}

impl Authenticator {
    /// Checks `key` against a record whose hash is slow (a Django password hash
    /// from djangorestframework-api-key before 3.0): on the blocking pool, one
    /// check of a key at a time and a bounded number in all.
    ///
    /// A request waits its turn, first in its key's queue and then for the
    /// pool, at most [`SlowChecks::wait`] in all, then is answered 503, as a
    /// store too busy to answer. A flood of guesses at one key thus holds at
    /// most one of the pool's permits at a time, other keys wait for no more
    /// than a check each, and the key's holder waits behind the guesses queued
    /// before it, which their client's throttle bounds. On success the stored
    /// hash is upgraded to `sha512$$`, as DRF 3.x does, off the request, so the
    /// key is quick from then on and Django still accepts it.
    pub(super) async fn decide_slowly(
        &self,
        key: &ApiKey,
        record: Arc<KeyRecord>,
        owed: &Owed,
    ) -> Decision {
        use crate::store::StoreError;
        let prefix = key.prefix();
        let busy = |source: StoreError| {
            Decision::Made(Err(AuthFailure::StoreUnavailable { prefix, source }))
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return Decision::Made(Err(AuthFailure::Unsupported {
                prefix,
                reason: "checking a legacy (Django password) hash needs a tokio runtime",
            }));
        }
        let slow = &self.inner.slow;
        let suspect = self.inner.policies.has_failed(owed.client);
        let mut turn = slow.turns.join(prefix, !suspect);
        // Waiting is no guess: a client that leaves now costs nothing.
        owed.nothing_at_stake();
        let waited = tokio::time::timeout(slow.wait, async {
            turn.wait().await;
            slow.permits.clone().acquire_owned().await
        })
        .await;
        let permit = match waited {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return busy(StoreError::unavailable(closed)),
            Err(_) => {
                // A guesser's waits are charged: flooding the queue from
                // addresses that failed is paid for, a clean wait is not.
                if suspect {
                    self.inner.policies.charge(owed.client);
                }
                return busy(StoreError::unavailable(
                    "the checks of legacy (Django password) hashes queued before this one \
                     took longer than the wait allowed",
                ));
            }
        };
        // Guesses sent together from one address all queued before any of
        // them failed: those whose turn comes after the budget ran out are
        // refused unchecked.
        if let Some(throttled) = self.throttled(owed.client) {
            return Decision::Made(Err(throttled));
        }
        let (presented, hash, hasher) =
            (key.clone(), record.hash.clone(), self.inner.hasher.clone());
        // The check runs to its end whatever the caller does: from here a
        // client that leaves is charged, its verdict never known.
        owed.at_stake();
        // The permit and the key's turn go with the work: a request that
        // gives up frees neither before this check ends.
        let matched = match tokio::task::spawn_blocking(move || {
            let _held = (permit, turn);
            hasher.verify(&presented, &hash)
        })
        .await
        {
            Ok(matched) => matched,
            Err(e) => return busy(StoreError::unavailable(e)),
        };
        if matched && record.is_active_at(SystemTime::now()) {
            self.upgrade_in_background(key, &record);
        }
        self.after_hash(prefix, record, matched, || owed.checked, owed.cost)
    }

    /// Replaces a legacy hash by `sha512$$` on a task of its own, within
    /// five seconds: a row locked elsewhere delays no request.
    fn upgrade_in_background(&self, key: &ApiKey, record: &Arc<KeyRecord>) {
        let (store, record) = (self.inner.store.clone(), record.clone());
        let upgraded = Hasher::sha512_drf().hash(key);
        tokio::spawn(async move {
            let prefix = record.prefix;
            let written = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                store.upgrade_hash(&record, upgraded),
            )
            .await;
            match written {
                Ok(Ok(true)) => crate::audit::hash_upgraded(&record),
                Ok(Ok(false)) => tracing::warn!(
                    prefix = %prefix,
                    "a legacy key hash was not upgraded: the row changed meanwhile, or its \
                     hashed_key column is too narrow for sha512$$ (DRF before 2.2 made it 100 \
                     characters: run Django's migrations); the key stays slow to check"
                ),
                Ok(Err(err)) => tracing::warn!(
                    prefix = %prefix,
                    error = %Chain(&err),
                    "could not upgrade a legacy key hash; it stays slow to check"
                ),
                Err(_) => tracing::warn!(
                    prefix = %prefix,
                    "upgrading a legacy key hash took over 5 s and was given up"
                ),
            }
        });
    }
}
