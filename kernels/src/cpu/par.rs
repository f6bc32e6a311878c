//! The kernels' parallel loops. Three ways to run, decided per thread:
//!
//! - inside [`with_pool`] (what the `accel-cpu` backend does for each op): on the calling
//!   thread, with the pool's workers joining as helpers (the private `team` module); the caller
//!   never sleeps while the pool works, which on small ops was most of the time;
//! - on a rayon worker (kernels called from inside a pool): rayon's iterators;
//! - inside [`serial`], or within one index of a loop: all on this thread. Loops do not nest:
//!   the outer loop already has every thread.

use super::team::{self, Claims};
use rayon::prelude::*;
use std::cell::Cell;
use std::ptr::NonNull;

thread_local! {
    static SERIAL: Cell<bool> = const { Cell::new(false) };
    /// The pool whose workers help this thread's loops (set by [`with_pool`]).
    static POOL: Cell<Option<NonNull<rayon::ThreadPool>>> = const { Cell::new(None) };
}

/// Sets a thread-local cell for the length of `f` (restored on return or unwind).
fn scoped<T: Copy + 'static, R>(cell: &'static std::thread::LocalKey<Cell<T>>, v: T, f: impl FnOnce() -> R) -> R {
    struct Restore<T: Copy + 'static>(&'static std::thread::LocalKey<Cell<T>>, T);
    impl<T: Copy + 'static> Drop for Restore<T> {
        fn drop(&mut self) {
            self.0.set(self.1);
        }
    }
    let _restore = Restore(cell, cell.replace(v));
    f()
}

/// Runs `f` with every kernel loop it starts serial on this thread.
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    scoped(&SERIAL, true, f)
}

/// Runs `f` on this thread with the loops it starts shared between this thread and the
/// workers of `pool` (`pool.current_num_threads()` threads in all).
pub fn with_pool<R>(pool: &rayon::ThreadPool, f: impl FnOnce() -> R) -> R {
    scoped(&POOL, Some(NonNull::from(pool)), || scoped(&SERIAL, false, f))
}

/// Threads the kernels' loops may use here.
pub(crate) fn threads() -> usize {
    if SERIAL.get() {
        1
    } else if let Some(pool) = POOL.get() {
        // SAFETY: `with_pool` holds the borrow of the pool while POOL is set.
        unsafe { pool.as_ref() }.current_num_threads()
    } else {
        rayon::current_num_threads()
    }
}

/// Runs `body` as every member of a loop over `0..count`: each member pulls its indices
/// from its [`Claims`] (set-up done once per member serves all of its indices).
fn members(count: usize, body: &(dyn Fn(&mut dyn Iterator<Item = usize>) + Sync)) {
    let threads = threads();
    match POOL.get() {
        _ if threads == 1 || count <= 1 => body(&mut (0..count)),
        Some(pool) => {
            // SAFETY: `with_pool` holds the borrow of the pool while POOL is set.
            let pool = unsafe { pool.as_ref() };
            // Members run their indices serially (nested loops see one thread).
            team::run(pool, threads - 1, count, &|c: &mut Claims<'_>| serial(|| body(c)));
        }
        None => {
            // Rayon splits the range; each piece is one member.
            let per = count.div_ceil(threads * 4).max(1);
            (0..count.div_ceil(per)).into_par_iter().for_each(|p| body(&mut (p * per..count.min(p * per + per))));
        }
    }
}

/// `f(i)` for every `i in 0..count`, in parallel when more than one thread may run.
pub(crate) fn for_each(count: usize, f: impl Fn(usize) + Sync) {
    members(count, &|it| it.for_each(&f));
}

/// `f(item)` for every element of `items`, in parallel when more than one thread may run.
pub(crate) fn for_each_mut<T: Send>(items: &mut [T], f: impl Fn(&mut T) + Sync) {
    let base = SendPtr(items.as_mut_ptr());
    for_each(items.len(), |i| {
        let base = &base;
        // SAFETY: each index is handed to exactly one call, so the `&mut` are disjoint and
        // within `items`, which this function borrows mutably until every call returned.
        f(unsafe { &mut *base.0.add(i) })
    });
}

/// `*mut T` handed to the members of one loop, which touch disjoint elements.
struct SendPtr<T>(*mut T);
// SAFETY: only used by `for_each_mut` / `chunks_init`, whose members access disjoint parts.
unsafe impl<T: Send> Sync for SendPtr<T> {}

/// `f(i, chunk)` for every `size`-element chunk of `dst` (a zero `size` counts as 1), in
/// parallel when more than one thread may run.
pub(crate) fn chunks<T: Send>(dst: &mut [T], size: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    chunks_init(dst, size, || (), |_, i, c| f(i, c));
}

/// [`chunks`] for chunks that are parallel inside (a GEMM per batch entry): split across the
/// threads only when the chunks share out evenly (a multiple of the thread count, or at
/// least four per thread); otherwise one after another, each with every thread.
pub(crate) fn outer_chunks<T: Send>(dst: &mut [T], size: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let size = size.max(1);
    let (count, t) = (dst.len().div_ceil(size), threads());
    if count >= t && (count.is_multiple_of(t) || count >= 4 * t) {
        chunks(dst, size, f);
    } else {
        dst.chunks_mut(size).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// [`chunks`] with per-member scratch state made by `init`.
pub(crate) fn chunks_init<T: Send, S>(
    dst: &mut [T],
    size: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize, &mut [T]) + Sync + Send,
) {
    let (len, size) = (dst.len(), size.max(1));
    let base = SendPtr(dst.as_mut_ptr());
    members(len.div_ceil(size), &|it| {
        let base = &base;
        let mut state = init();
        for i in it {
            let (start, end) = (i * size, len.min(i * size + size));
            // SAFETY: chunk `i` is `dst[start..end]`, handed to exactly one call; `dst` stays
            // mutably borrowed until every call returned.
            let chunk = unsafe { std::slice::from_raw_parts_mut(base.0.add(start), end - start) };
            f(&mut state, i, chunk);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_mode_is_scoped_and_loops_cover_every_chunk() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        pool.install(|| {
            assert_eq!(threads(), 2);
            let inner = serial(|| {
                let mut v = vec![0usize; 10];
                chunks_init(&mut v, 3, || 1, |s, i, c| c.iter_mut().for_each(|x| *x = i + *s));
                (threads(), v)
            });
            assert_eq!(inner, (1, vec![1, 1, 1, 2, 2, 2, 3, 3, 3, 4]));
            assert_eq!(threads(), 2);
            let mut v = vec![0usize; 10];
            chunks(&mut v, 4, |i, c| c.iter_mut().for_each(|x| *x = i));
            assert_eq!(v, vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
        });
    }

    #[test]
    fn with_pool_shares_loops_with_the_workers_and_does_not_nest() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let caller = std::thread::current().id();
        with_pool(&pool, || {
            assert_eq!(threads(), 3);
            let mut v = vec![(0usize, 0usize); 1000];
            // Per-member state: each member counts the chunks it did, starting from zero.
            chunks_init(
                &mut v,
                7,
                || 0usize,
                |done, i, c| {
                    assert_eq!(threads(), 1, "a loop inside a loop runs serially");
                    *done += 1;
                    c.iter_mut().for_each(|x| *x = (i, *done));
                },
            );
            assert!(v.iter().enumerate().all(|(j, x)| x.0 == j / 7 && x.1 >= 1));
            let mut items: Vec<usize> = (0..50).collect();
            for_each_mut(&mut items, |x| *x *= 2);
            assert_eq!(items, (0..50).map(|x| x * 2).collect::<Vec<_>>());
            assert_eq!(std::thread::current().id(), caller);
            assert_eq!(serial(threads), 1);
        });
        assert_eq!(threads(), rayon::current_num_threads());
    }
}
