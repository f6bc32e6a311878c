//! [`Work`]: the handle a non-blocking collective returns.

use crate::error::{Error, Result};
use std::sync::{Arc, Condvar, Mutex};
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

/// The transport's side of a [`Work`]: completes it exactly once.
#[derive(Debug)]
pub(crate) struct Completer {
    state: Arc<Slot>,
}

impl Completer {
    pub(crate) fn complete(self, result: Result<()>) {
        *self.state.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        self.state.cv.notify_all();
    }
}

impl Work {
    /// A handle that is already complete (transports that run calls eagerly).
    pub fn done(op: &'static str, seq: u64, result: Result<()>) -> Work {
        let state = Arc::new(Slot { result: Mutex::new(Some(result)), cv: Condvar::new() });
        Work { state, op, seq, rank: 0, size: 1, deadline: Instant::now() }
    }

    /// A pending handle and its completer. `deadline` bounds [`Work::wait`]: the transport
    /// applies the same deadline to the call, so it normally completes first; the margin
    /// covers a completer that never runs.
    pub(crate) fn pending(
        op: &'static str,
        seq: u64,
        rank: usize,
        size: usize,
        deadline: Instant,
    ) -> (Work, Completer) {
        let state = Arc::new(Slot::default());
        (Work { state: state.clone(), op, seq, rank, size, deadline }, Completer { state })
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
            guard = self.state.cv.wait_timeout(guard, limit - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}
