//! The kernels' parallel loops: on the current rayon pool, or all on the calling thread
//! inside [`serial`]. A one-thread CPU backend runs its ops that way instead of handing each
//! to a pool thread and waiting for it (a wake-up each way, ~5–10 µs per op, which is most of
//! a small op's time).

use rayon::prelude::*;
use std::cell::Cell;

thread_local! {
    static SERIAL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every kernel loop it starts serial on this thread (restored on return or
/// unwind).
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SERIAL.set(self.0);
        }
    }
    let _restore = Restore(SERIAL.replace(true));
    f()
}

/// Threads the kernels' loops may use here.
pub(crate) fn threads() -> usize {
    if SERIAL.get() { 1 } else { rayon::current_num_threads() }
}

/// `f(i, chunk)` for every `size`-element chunk of `dst` (`size > 0`), in parallel when more
/// than one thread may run.
pub(crate) fn chunks<T: Send>(dst: &mut [T], size: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if threads() == 1 {
        dst.chunks_mut(size).enumerate().for_each(|(i, c)| f(i, c));
    } else {
        dst.par_chunks_mut(size).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// [`chunks`] with per-worker scratch state made by `init`.
pub(crate) fn chunks_init<T: Send, S>(
    dst: &mut [T],
    size: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize, &mut [T]) + Sync + Send,
) {
    if threads() == 1 {
        let mut state = init();
        dst.chunks_mut(size).enumerate().for_each(|(i, c)| f(&mut state, i, c));
    } else {
        dst.par_chunks_mut(size).enumerate().for_each_init(init, |state, (i, c)| f(state, i, c));
    }
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
}
