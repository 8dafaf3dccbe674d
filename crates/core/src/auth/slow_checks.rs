//! The queue of checks against slow (Django password) hashes.

use std::sync::Arc;

use crate::key::Prefix;

/// The bound on checks against slow (Django password) hashes: so many at
/// once on the blocking pool, each request waiting so long at most for its
/// turn, and one check of a key at a time, its requests queued in order.
pub(super) struct SlowChecks {
    pub(super) permits: Arc<tokio::sync::Semaphore>,
    pub(super) wait: std::time::Duration,
    pub(super) turns: KeyTurns,
}

/// The queues of requests waiting to check a key's slow hash. One check of
/// a key runs at a time, so a flood of guesses at one key holds one of the
/// pool's permits, not all of them. The key's other requests wait their
/// turn: first those from addresses with no failed attempt on record, in
/// the order they came, then those from addresses that have failed (the
/// guessers), so a key's holder waits behind other clean requests only,
/// never behind the guesses of addresses the throttle has seen fail. A
/// key's entry lives while a request waits for or holds its turn.
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
/// [`wait`](Self::wait) returns. Dropped, wherever that happens (the check
/// ended, the request gave up waiting, its client hung up), it passes the
/// turn on if it held it or had just been given it, and leaves the queue.
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
