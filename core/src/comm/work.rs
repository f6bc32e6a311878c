//! [`Work`]: the handle a non-blocking collective returns, and [`Completer`], the transport's
//! side of it.
//!
//! A transport that runs a call in the background (a worker thread, a progress engine)
//! returns [`Work::pending`]'s handle from [`Communicator::start`](super::Communicator::start)
//! and completes the [`Completer`] when the call has finished; one that runs calls eagerly
//! returns [`Work::done`]. The contract a caller sees is the same: once [`Work::wait`] returns
//! `Ok`, the output holds the result.

use crate::error::{Error, Result};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A collective in flight. [`Work::wait`] returns its result; once it returns `Ok`, the
/// output holds the result. Dropping a `Work` does not cancel the call (it still runs, in
/// issue order), it only discards its result.
#[derive(Debug)]
#[must_use = "a collective's result is only seen through wait()"]
pub struct Work {
    state: Arc<Slot>,
    op: &'static str,
    seq: u64,
    rank: usize,
    size: usize,
    deadline: Instant,
}

#[derive(Debug, Default)]
struct Slot {
    result: Mutex<Option<Result<()>>>,
    cv: Condvar,
}

/// The transport's side of a [`Work`]: completes it exactly once ([`Completer::complete`]
/// takes it by value). A completer dropped without completing (its worker thread panicked or
/// shut down) completes the handle with [`Error::CommAborted`], so a waiter never waits
/// until the deadline for a call that can no longer finish.
#[derive(Debug)]
pub struct Completer {
    state: Arc<Slot>,
    op: &'static str,
    rank: usize,
    done: bool,
}

impl Completer {
    /// Publishes the call's result and wakes every waiter.
    pub fn complete(mut self, result: Result<()>) {
        self.done = true;
        self.publish(result);
    }

    fn publish(&self, result: Result<()>) {
        *self.state.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        self.state.cv.notify_all();
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if !self.done {
            self.publish(Err(Error::CommAborted {
                op: self.op,
                rank: self.rank,
                reason: "the transport dropped the call before completing it".into(),
            }));
        }
    }
}

impl Work {
    /// A handle that is already complete (transports that run calls eagerly).
    pub fn done(op: &'static str, seq: u64, result: Result<()>) -> Work {
        let state = Arc::new(Slot { result: Mutex::new(Some(result)), cv: Condvar::new() });
        Work { state, op, seq, rank: 0, size: 1, deadline: Instant::now() }
    }

    /// A pending handle and its completer, for transports that run calls in the background:
    /// return the `Work` from `start`, move the [`Completer`] to whatever runs the call, and
    /// [`Completer::complete`] it when the output holds the result (or with the call's error).
    /// `deadline` bounds [`Work::wait`]: the transport should apply the same deadline to the
    /// call, so it normally completes first; a few seconds' margin covers a completer that
    /// never runs, after which `wait` returns [`Error::CommTimeout`].
    ///
    /// ```
    /// use accel_core::comm::Work;
    /// use std::time::{Duration, Instant};
    ///
    /// let (work, completer) = Work::pending("all_reduce", 1, 0, 2, Instant::now() + Duration::from_secs(5));
    /// let worker = std::thread::spawn(move || completer.complete(Ok(())));
    /// assert!(work.wait().is_ok());
    /// worker.join().unwrap();
    /// ```
    pub fn pending(op: &'static str, seq: u64, rank: usize, size: usize, deadline: Instant) -> (Work, Completer) {
        let state = Arc::new(Slot::default());
        (Work { state: state.clone(), op, seq, rank, size, deadline }, Completer { state, op, rank, done: false })
    }

    /// True once the call has finished (successfully or not).
    pub fn is_complete(&self) -> bool {
        self.state.result.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Sequence number of the call.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Waits for the call and returns its result.
    pub fn wait(self) -> Result<()> {
        const MARGIN: Duration = Duration::from_secs(5);
        let limit = self.deadline + MARGIN;
        let since = Instant::now();
        let mut guard = self.state.result.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = guard.take() {
                return r;
            }
            let now = Instant::now();
            if now >= limit {
                return Err(Error::CommTimeout {
                    op: self.op,
                    seq: self.seq,
                    rank: self.rank,
                    size: self.size,
                    missing: Vec::new(),
                    waited_ms: (now + MARGIN).saturating_duration_since(self.deadline).as_millis() as u64,
                });
            }
            guard = wait_step(&self.state.result, &self.state.cv, guard, since, limit);
        }
    }
}

/// How long a wait polls (gives up its lock and yields the CPU) before it sleeps.
pub(crate) const POLL: Duration = Duration::from_micros(200);

/// One step of a condition-variable wait that started at `since`: for the first [`POLL`] it
/// releases the lock, yields the CPU and relocks (the caller re-checks its condition, as after
/// a spurious wake-up); after that it sleeps on `cv` until notified or `deadline`. A thread
/// asleep on an idle virtual CPU takes tens to hundreds of microseconds to wake, which was
/// most of the latency of a small in-process collective (several hand-offs per call); a
/// yielding thread keeps its CPU and still lets a peer that shares it run.
pub(crate) fn wait_step<'a, T>(
    lock: &'a Mutex<T>,
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    since: Instant,
    deadline: Instant,
) -> MutexGuard<'a, T> {
    let now = Instant::now();
    if now.saturating_duration_since(since) < POLL {
        drop(guard);
        std::thread::yield_now();
        return lock.lock().unwrap_or_else(|e| e.into_inner());
    }
    cv.wait_timeout(guard, deadline.saturating_duration_since(now)).unwrap_or_else(|e| e.into_inner()).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_completer_fails_the_wait_at_once() {
        let (work, completer) = Work::pending("all_reduce", 3, 1, 2, Instant::now() + Duration::from_secs(600));
        std::thread::spawn(move || drop(completer)).join().expect("thread");
        assert!(matches!(work.wait(), Err(Error::CommAborted { op: "all_reduce", rank: 1, .. })));
    }

    #[test]
    fn a_completed_handle_reports_its_result() {
        let (work, completer) = Work::pending("barrier", 1, 0, 1, Instant::now());
        assert!(!work.is_complete());
        completer.complete(Err(Error::invalid("barrier", "x", "y", "z")));
        assert!(work.is_complete());
        assert!(matches!(work.wait(), Err(Error::InvalidArgument { .. })));
    }
}
