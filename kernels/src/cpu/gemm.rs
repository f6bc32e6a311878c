//! The blocked GEMM driver: `C = A·B` for one matrix, finished tile by tile by an epilogue.
//!
//! Loops (BLIS order, per output tile of at most `MC × NC`): for each `KC` slice of the
//! reduction, pack the A block (`MC × KC`, fits L2) and the B block (`KC × NC`), then sweep
//! `NR`-column B panels (L1) against `MR`-row A panels with the register microkernel, adding
//! into the tile's accumulator. When the whole reduction is done the epilogue
//! ([`TileEpi`]) turns the accumulator tile into output elements (alpha/beta, bias, residual,
//! activation, requantization, rounding) and stores it.
//!
//! Parallelism: over `MC`-row blocks written in place when there are enough of them; else over
//! (row block, column block) tiles computed into private buffers and copied out, so a short
//! wide product (GEMV-like) still uses every thread. Small products run serially.

use super::dtype::{Data, Elem};
use super::epilogue::At;
use super::kernel::{Acc, MR, NR};
use super::pack::{MatSrc, ToAcc, pack_a, pack_b};
use super::unsupported;
use accel_core::{Op, Result};
use rayon::prelude::*;

/// Rows of an output block (A block height).
const MC: usize = 64;
/// Reduction slice (A block width, B block height).
const KC: usize = 256;
/// Columns of an output block (B block width).
const NC: usize = 256;
/// Below this many multiply-adds a product runs on the calling thread.
const SERIAL_MACS: usize = 1 << 15;

/// A block of the output: rows `r0..r0 + rows`, columns `c0..c0 + cols`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tile {
    pub(crate) r0: usize,
    pub(crate) c0: usize,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

/// Finishes accumulator tiles into output elements.
pub(crate) trait TileEpi<V, T>: Sync {
    /// True when the previous output contents are read (beta ≠ 0).
    fn reads_prev(&self) -> bool;
    /// Finishes tile `t` of C: `acc` holds it with row stride `t.cols`; `dst` holds the output
    /// tile (its previous contents when [`TileEpi::reads_prev`]) with row stride `ld`.
    fn apply(&self, t: Tile, acc: &mut [V], dst: &mut [T], ld: usize);
}

/// Per-thread packing and accumulator buffers.
struct Scratch<V> {
    a: Vec<V>,
    b: Vec<V>,
    acc: Vec<V>,
}

impl<V> Default for Scratch<V> {
    fn default() -> Self {
        Scratch { a: Vec::new(), b: Vec::new(), acc: Vec::new() }
    }
}

/// One product: operands, reduction length, output width and epilogue.
struct Problem<'p, A, B, E> {
    a: &'p A,
    b: &'p B,
    k: usize,
    n: usize,
    epi: &'p E,
}

/// `dst (m × n, row-major, dense) = epi(A (m × k) · B (k × n))`.
pub(crate) fn gemm<A, B, T, E>(a: &A, b: &B, m: usize, n: usize, k: usize, dst: &mut [T], epi: &E)
where
    A: MatSrc,
    B: MatSrc<V = A::V>,
    T: Elem,
    E: TileEpi<A::V, T>,
{
    if m == 0 || n == 0 {
        return;
    }
    let p = Problem { a, b, k, n, epi };
    let row_blocks = m.div_ceil(MC);
    let threads = rayon::current_num_threads();
    let serial = m.saturating_mul(n).saturating_mul(k.max(1)) < SERIAL_MACS || threads == 1;
    if serial || (row_blocks == 1 && n <= NR) {
        let mut s = Scratch::default();
        for (bi, chunk) in dst.chunks_mut(MC * n).enumerate() {
            p.row_block(bi * MC, chunk, &mut s);
        }
    } else if row_blocks >= threads {
        dst.par_chunks_mut(MC * n)
            .enumerate()
            .for_each_init(Scratch::default, |s, (bi, chunk)| p.row_block(bi * MC, chunk, s));
    } else {
        // Few row blocks: split columns too, so that there are about 2 tiles per thread.
        let col_split = (2 * threads).div_ceil(row_blocks);
        let width = n.div_ceil(col_split).next_multiple_of(NR).clamp(NR, NC);
        let tiles: Vec<Tile> = (0..row_blocks)
            .flat_map(|bi| {
                (0..n.div_ceil(width)).map(move |bj| {
                    let (r0, c0) = (bi * MC, bj * width);
                    Tile { r0, c0, rows: MC.min(m - r0), cols: width.min(n - c0) }
                })
            })
            .collect();
        let prev: &[T] = dst;
        let done: Vec<Vec<T>> = tiles
            .par_iter()
            .map_init(Scratch::default, |s, &t| {
                let mut out = vec![T::default(); t.rows * t.cols];
                if epi.reads_prev() {
                    for (i, row) in out.chunks_exact_mut(t.cols).enumerate() {
                        let from = (t.r0 + i) * n + t.c0;
                        row.copy_from_slice(&prev[from..from + t.cols]);
                    }
                }
                p.tile(t, s);
                epi.apply(t, &mut s.acc, &mut out, t.cols);
                out
            })
            .collect();
        for (t, out) in tiles.iter().zip(&done) {
            for (i, row) in out.chunks_exact(t.cols).enumerate() {
                let to = (t.r0 + i) * n + t.c0;
                dst[to..to + t.cols].copy_from_slice(row);
            }
        }
    }
}

impl<A, B, E> Problem<'_, A, B, E>
where
    A: MatSrc,
    B: MatSrc<V = A::V>,
{
    /// Computes and finishes the rows of `chunk` (rows `r0..`, all `n` columns).
    fn row_block<T: Elem>(&self, r0: usize, chunk: &mut [T], s: &mut Scratch<A::V>)
    where
        E: TileEpi<A::V, T>,
    {
        let (n, rows) = (self.n, chunk.len() / self.n);
        for c0 in (0..n).step_by(NC) {
            let t = Tile { r0, c0, rows, cols: NC.min(n - c0) };
            self.tile(t, s);
            self.epi.apply(t, &mut s.acc, &mut chunk[c0..], n);
        }
    }

    /// Accumulates tile `t` of `A·B` into `s.acc` (row stride `t.cols`).
    fn tile(&self, t: Tile, s: &mut Scratch<A::V>) {
        let (k, rows, cols) = (self.k, t.rows, t.cols);
        s.acc.clear();
        s.acc.resize(rows * cols, A::V::default());
        let mut p0 = 0;
        while p0 < k {
            let kc = KC.min(k - p0);
            pack_a(self.a, t.r0, rows, p0, kc, &mut s.a);
            pack_b(self.b, p0, kc, t.c0, cols, &mut s.b);
            for (pj, bp) in s.b.chunks_exact(kc * NR).enumerate() {
                let j0 = pj * NR;
                let w = NR.min(cols - j0);
                for (pi, ap) in s.a.chunks_exact(kc * MR).enumerate() {
                    let i0 = pi * MR;
                    let mut c = [[A::V::default(); NR]; MR];
                    A::V::kernel(kc, ap, bp, &mut c);
                    for (i, crow) in c.iter().enumerate().take(rows - i0) {
                        let at = (i0 + i) * cols + j0;
                        for (acc, &v) in s.acc[at..at + w].iter_mut().zip(crow) {
                            *acc = acc.add(v);
                        }
                    }
                }
            }
            p0 += kc;
        }
    }
}

/// An op body generic over the two operand element types and the accumulator: float inputs
/// accumulate in f32, int8 inputs (i8×i8, u8×i8) in i32.
pub(crate) trait ProductBody {
    /// Fills `dst` from operands `a` and `b`.
    fn go<TA, TB, V, T>(&self, a: &[TA], b: &[TB], dst: &mut [T]) -> Result<()>
    where
        TA: ToAcc<V>,
        TB: ToAcc<V>,
        V: Acc,
        T: Elem,
        for<'e, 'x> At<'e, 'x>: TileEpi<V, T>;
}

/// Picks the accumulator for an (a, b) dtype pair and runs `body`; any other pair is `op`
/// reported as unsupported.
pub(crate) fn dispatch_product<B: ProductBody, T: Elem>(
    body: &B,
    a: &Data<'_>,
    b: &Data<'_>,
    dst: &mut [T],
    op: impl FnOnce() -> Op,
) -> Result<()>
where
    for<'e, 'x> At<'e, 'x>: TileEpi<f32, T> + TileEpi<i32, T>,
{
    match (a, b) {
        (Data::F32(a), Data::F32(b)) => body.go::<_, _, f32, T>(a, b, dst),
        (Data::F16(a), Data::F16(b)) => body.go::<_, _, f32, T>(a, b, dst),
        (Data::BF16(a), Data::BF16(b)) => body.go::<_, _, f32, T>(a, b, dst),
        (Data::I8(a), Data::I8(b)) => body.go::<_, _, i32, T>(a, b, dst),
        (Data::U8(a), Data::I8(b)) => body.go::<_, _, i32, T>(a, b, dst),
        _ => Err(unsupported(&op())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::pack::StridedMat;
    use std::marker::PhantomData;

    struct Store;
    impl TileEpi<f32, f32> for Store {
        fn reads_prev(&self) -> bool {
            false
        }
        fn apply(&self, t: Tile, acc: &mut [f32], dst: &mut [f32], ld: usize) {
            for i in 0..t.rows {
                dst[i * ld..i * ld + t.cols].copy_from_slice(&acc[i * t.cols..(i + 1) * t.cols]);
            }
        }
    }

    fn check(m: usize, n: usize, k: usize) {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
        // B is read transposed: stored [n, k].
        let b: Vec<f32> = (0..n * k).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
        let am = StridedMat { data: &a, base: 0, rs: k, cs: 1, zp: 0, _acc: PhantomData::<f32> };
        let bm = StridedMat { data: &b, base: 0, rs: 1, cs: k, zp: 0, _acc: PhantomData::<f32> };
        let mut c = vec![0f32; m * n];
        gemm(&am, &bm, m, n, k, &mut c, &Store);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|p| a[i * k + p] * b[j * k + p]).sum();
                assert_eq!(c[i * n + j], want, "({m},{n},{k}) at ({i},{j})");
            }
        }
    }

    #[test]
    fn gemm_matches_naive_on_edge_shapes() {
        for &(m, n, k) in &[(1, 1, 1), (3, 5, 0), (5, 3, 7), (65, 9, 300), (2, 600, 17), (130, 70, 3), (1, 1000, 40)] {
            check(m, n, k);
        }
    }
}
