//! A parallel loop in which the calling thread always works: `f(i)` for `i in 0..count`,
//! claimed in shrinking runs of indices by the caller and by helpers that pool workers run.
//!
//! Why not `pool.install` + a rayon iterator: the caller then sleeps while the pool works and
//! is woken at the end, and the worker that takes the job was asleep too. On a 2-vCPU guest
//! `perf sched` showed a 128³ matmul on two threads with the caller and worker 0 taking turns
//! on one vCPU, two context switches per call and about 20 µs lost per call; two threads were
//! barely faster than one. Here nobody waits
//! for a thread that has not started: the caller claims indices until none are left, then
//! waits only for indices already claimed, which running helpers are executing. A helper
//! that starts late finds nothing to claim and leaves without touching the loop's data.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Spins before yielding while waiting for claimed indices to finish.
const SPINS: u32 = 1 << 10;

/// A member's part of the loop: it pulls its indices from a [`Claims`] iterator, so state
/// it sets up once (scratch buffers) serves every index it gets.
pub(crate) type Body<'a> = dyn Fn(&mut Claims<'_>) + Sync + 'a;

/// One loop, shared with the helpers (which may outlive the caller's frame; see [`run`]).
struct Loop {
    /// The next unclaimed index.
    next: AtomicUsize,
    /// Indices finished.
    done: AtomicUsize,
    count: usize,
    /// Members that may work the loop (the caller and its helpers).
    members: usize,
    /// Set by the caller once every index is done: helpers may no longer join.
    closed: AtomicBool,
    /// Helpers that joined and have not left.
    inside: AtomicUsize,
    /// The first panic of a member, re-raised on the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// The body, its lifetime erased. A helper calls it only after joining an open loop, and
    /// the caller does not return while a helper is inside, so it is alive whenever called.
    body: *const Body<'static>,
}

// SAFETY: `body` is a `Sync` closure, called only under the protocol above; the rest is
// atomics and a mutex.
unsafe impl Send for Loop {}
// SAFETY: as above.
unsafe impl Sync for Loop {}

/// The indices one member claims, a run at a time: each run is counted done when the index
/// after its last is asked for.
pub(crate) struct Claims<'l> {
    l: &'l Loop,
    run: std::ops::Range<usize>,
    /// Length of the current run, not yet counted done.
    pending: usize,
}

impl Iterator for Claims<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if let Some(i) = self.run.next() {
            return Some(i);
        }
        self.finish_run();
        self.run = self.l.claim();
        self.pending = self.run.len();
        self.run.next()
    }
}

impl Claims<'_> {
    fn finish_run(&mut self) {
        let n = std::mem::take(&mut self.pending);
        if n > 0 {
            self.l.done.fetch_add(n, Ordering::Release);
        }
    }

    /// After a panic: counts the current run and every unclaimed index as done, so the
    /// caller's wait ends even when no other member is left to claim them.
    fn abandon(&mut self) {
        self.finish_run();
        self.run = 0..0;
        let unclaimed = self.l.count - self.l.next.swap(self.l.count, Ordering::Relaxed).min(self.l.count);
        if unclaimed > 0 {
            self.l.done.fetch_add(unclaimed, Ordering::Release);
        }
    }
}

impl Loop {
    /// The next run of unclaimed indices (empty when none are left): a share of what is left
    /// that shrinks as it runs out (guided scheduling), so a loop of many short indices costs
    /// a few claims per member, not one contended atomic per index (measured: 15 % of a
    /// 192-plane depthwise convolution on two threads), and the last runs are short.
    fn claim(&self) -> std::ops::Range<usize> {
        let mut start = self.next.load(Ordering::Relaxed);
        loop {
            if start >= self.count {
                return 0..0;
            }
            let size = ((self.count - start) / (2 * self.members)).max(1);
            match self.next.compare_exchange_weak(start, start + size, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return start..start + size,
                Err(now) => start = now,
            }
        }
    }

    /// Runs the body as one member, keeping the first panic.
    fn member(&self, body: &Body<'_>) {
        let mut claims = Claims { l: self, run: 0..0, pending: 0 };
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| body(&mut claims))) {
            claims.abandon();
            self.panic.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(p);
        }
    }

    /// A helper's whole part: join unless the loop is closed, work, leave.
    fn help(&self) {
        // SeqCst pairs with the caller's `closed` store and `inside` load: either the caller
        // sees this helper inside and waits for it, or the helper sees the loop closed.
        self.inside.fetch_add(1, Ordering::SeqCst);
        if !self.closed.load(Ordering::SeqCst) {
            // SAFETY: joined an open loop, so the caller is waiting in `run` (see `Loop::body`).
            self.member(unsafe { &*self.body });
        }
        self.inside.fetch_sub(1, Ordering::Release);
    }
}

/// Waits until `cond` holds: spins briefly (the awaited work is running on another core),
/// then yields.
fn wait_until(cond: impl Fn() -> bool) {
    let mut spins = 0u32;
    while !cond() {
        if spins < SPINS {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

/// Runs `body` on the calling thread and on up to `helpers` workers of `pool`, each pulling
/// indices of `0..count` from its [`Claims`] until none are left; returns when every index
/// is done. A panic in any member is re-raised here, after every member has left.
pub(crate) fn run(pool: &rayon::ThreadPool, helpers: usize, count: usize, body: &Body<'_>) {
    // SAFETY: only the lifetime is erased; `run` does not return (or unwind) while a helper
    // is inside, so no call through this pointer outlives `body`.
    let erased: *const Body<'static> = unsafe { std::mem::transmute::<*const Body<'_>, _>(body) };
    let shared = Arc::new(Loop {
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        count,
        members: helpers.min(count.saturating_sub(1)) + 1,
        closed: AtomicBool::new(false),
        inside: AtomicUsize::new(0),
        panic: Mutex::new(None),
        body: erased,
    });
    for _ in 0..helpers.min(count.saturating_sub(1)) {
        let l = Arc::clone(&shared);
        pool.spawn(move || l.help());
    }
    shared.member(body);
    wait_until(|| shared.done.load(Ordering::Acquire) >= count);
    shared.closed.store(true, Ordering::SeqCst);
    wait_until(|| shared.inside.load(Ordering::SeqCst) == 0);
    if let Some(p) = shared.panic.lock().unwrap_or_else(PoisonError::into_inner).take() {
        resume_unwind(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn each(pool: &rayon::ThreadPool, helpers: usize, count: usize, f: impl Fn(usize) + Sync) {
        run(pool, helpers, count, &|c: &mut Claims<'_>| c.for_each(&f));
    }

    #[test]
    fn every_index_runs_once_with_late_and_missing_helpers() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        for count in [0, 1, 2, 3, 7, 64, 1000] {
            for helpers in [0, 1, 2, 5] {
                let hits: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
                each(&pool, helpers, count, |i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "count {count} helpers {helpers}");
            }
        }
        // Busy workers: the helpers start after the caller has done everything, and leave.
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        for _ in 0..3 {
            let g = Arc::clone(&gate);
            pool.spawn(move || drop(g.lock()));
        }
        let sum = AtomicUsize::new(0);
        each(&pool, 2, 100, |i| {
            sum.fetch_add(i, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 4950);
        drop(held);
    }

    #[test]
    fn claims_are_shrinking_runs_that_cover_the_loop_once() {
        let body: &Body<'static> = &|_: &mut Claims<'_>| {};
        for (count, members) in [(192, 2), (7, 2), (1000, 3), (1, 1)] {
            let l = Loop {
                next: AtomicUsize::new(0),
                done: AtomicUsize::new(0),
                count,
                members,
                closed: AtomicBool::new(false),
                inside: AtomicUsize::new(0),
                panic: Mutex::new(None),
                body,
            };
            let runs: Vec<_> = std::iter::from_fn(|| Some(l.claim()).filter(|r| !r.is_empty())).collect();
            assert!(runs.windows(2).all(|w| w[0].end == w[1].start && w[0].len() >= w[1].len()), "{runs:?}");
            assert_eq!((runs[0].start, runs[runs.len() - 1].end), (0, count));
            // Far fewer claims than indices on long loops (192 planes: 192 atomics before).
            assert!(runs.len() <= 2 * members * (count.ilog2() as usize + 1), "{count}: {} runs", runs.len());
        }
    }

    #[test]
    fn a_panicking_member_is_reraised_on_the_caller_without_a_hang() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        for bad in [0, 5, 63] {
            let r = catch_unwind(AssertUnwindSafe(|| {
                each(&pool, 2, 64, |i| {
                    if i == bad {
                        panic!("item {i}");
                    }
                    std::thread::sleep(std::time::Duration::from_micros(50));
                })
            }));
            let msg = r.expect_err("the panic reaches the caller");
            assert_eq!(msg.downcast_ref::<String>().map(String::as_str), Some(format!("item {bad}").as_str()));
        }
        // The pool still works afterwards.
        let sum = AtomicUsize::new(0);
        each(&pool, 1, 10, |i| {
            sum.fetch_add(i, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 45);
    }
}
