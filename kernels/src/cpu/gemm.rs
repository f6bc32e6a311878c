//! The blocked GEMM driver: `C = epi(A·B)` for one matrix, on the microkernel family the
//! active ISA ([`super::isa::active`]) and the operand types select.
//!
//! Loops (BLIS order, with the roles of A and B swapped because C is row-major and the
//! kernels vectorise along its rows):
//!
//! ```text
//! for each k block (kc, sized so an A micro-panel fits in L1):
//!     if tasks split rows: pack the whole B block (kc × n) into NR-column
//!         panels, row by row, in parallel                                  -- shared, L3
//!     for each task (a range of rows × columns of C), in parallel:
//!         pack its A rows (rows × kc) into MR-row panels                   -- private
//!         for each column block of nc columns (kc × nc of B fits in L2):
//!             if the task owns all rows: pack this B block                 -- private, L2
//!             for each A panel (L1):  for each B panel (streams from L2):
//!                 microkernel → MR × NR tile of C
//! ```
//!
//! Row-major A, and B when it fits in L2 at a stride that spreads over the L1 sets, are read
//! in place instead of packed (`InPlaceA`, `InPlaceB`). Packing buffers are recycled
//! (`LineBuf`).
//!
//! Partial sums of earlier k blocks live in the output itself when it has the accumulator's
//! type (f32 for floats, i32 for int8) and the epilogue does not read it, else in a scratch
//! matrix. The last k block finishes each tile straight from the registers
//! ([`FastPlan`]: alpha, bias, ReLU / clamp, f32/bf16/f16 store); any other epilogue (GELU,
//! SiLU, residual, beta, requantization) finishes the tile from an L1-resident copy right
//! after the microkernel ([`TileEpi::apply`]), never as a pass over C. VNNI families fold
//! their zero-point and +128 corrections into the same per-row and per-column addends.

use super::arch::{Family, FastAct, Fin, OutKind, TileIo, k_groups, k_padded, scalar};
use super::dtype::{Data, Elem};
use super::epilogue::{At, ChanAxis};
use super::isa::{self, Isa};
use super::kernel::Acc;
use super::linebuf::LineBuf;
use super::pack::{MatSrc, ToAcc, a_len, a_sums, b_len, b_sums, pack_a, pack_b_panels};
use super::par;
use super::unsupported;
use accel_core::{Op, Result};
use std::any::TypeId;

/// Below this many multiply-adds a product runs on the calling thread.
pub(crate) const SERIAL_MACS: usize = 1 << 20;
/// Products with every dimension at most this run without packing where the family can.
const SMALL_DIM: usize = 64;

/// A block of the output: rows `r0..r0 + rows`, columns `c0..c0 + cols`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tile {
    pub(crate) r0: usize,
    pub(crate) c0: usize,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

/// An epilogue the microkernel applies in registers: `alpha·acc + bias[chan]`, `act`, stored
/// as `out`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastPlan<'e, V> {
    pub(crate) alpha: f32,
    /// The bias by channel, and which coordinate is the channel (row channels start at
    /// `row_base`).
    pub(crate) bias: Option<&'e [V]>,
    pub(crate) axis: ChanAxis,
    pub(crate) row_base: usize,
    pub(crate) act: FastAct,
    pub(crate) out: OutKind,
}

/// Finishes accumulator tiles into output elements.
pub(crate) trait TileEpi<V, T>: Sync {
    /// True when the previous output contents are read (beta ≠ 0).
    fn reads_prev(&self) -> bool;
    /// Finishes tile `t` of C: `acc` holds it with row stride `t.cols`; `dst` holds the output
    /// tile (its previous contents when [`TileEpi::reads_prev`]) with row stride `ld`.
    fn apply(&self, t: Tile, acc: &mut [V], dst: &mut [T], ld: usize);
    /// The in-register form of this epilogue, when it has one.
    fn fast(&self) -> Option<FastPlan<'_, V>>;
}

/// The stored kind of output type `T` for accumulator `V`, when a kernel can store it.
pub(crate) fn out_kind<V: 'static, T: 'static>() -> Option<OutKind> {
    let t = TypeId::of::<T>();
    if t == TypeId::of::<V>() {
        Some(OutKind::Acc)
    } else if TypeId::of::<V>() == TypeId::of::<f32>() && t == TypeId::of::<half::bf16>() {
        Some(OutKind::Bf16)
    } else if TypeId::of::<V>() == TypeId::of::<f32>() && t == TypeId::of::<half::f16>() {
        Some(OutKind::F16)
    } else {
        None
    }
}

/// One product `A (m × k) · B (k × n)` with its operands' zero points (int8 only).
pub(crate) struct Product<'p, A, B> {
    /// The kernel family's ISA (supported by this CPU).
    pub(crate) isa: Isa,
    pub(crate) a: &'p A,
    pub(crate) b: &'p B,
    pub(crate) m: usize,
    pub(crate) n: usize,
    pub(crate) k: usize,
    pub(crate) za: i32,
    pub(crate) zb: i32,
}

/// Accumulators with a GEMM: picks the family for the active ISA and runs it.
pub(crate) trait GemmAcc: Acc {
    /// `dst (m × n, row-major, dense) = epi(A·B)`.
    fn gemm<A: MatSrc, B: MatSrc, T: Elem, E: TileEpi<Self, T>>(p: &Product<'_, A, B>, dst: &mut [T], epi: &E);
}

/// True when `X` and `Y` are the same type.
pub(crate) fn is<X: 'static, Y: 'static>() -> bool {
    TypeId::of::<X>() == TypeId::of::<Y>()
}

/// `x` as a slice of `Y` when `X` is `Y` (a generic body's view of its own type).
pub(crate) fn as_same<X: 'static, Y: 'static>(x: &[X]) -> Option<&[Y]> {
    // SAFETY: `X` and `Y` are the same type, so this is the same slice, reinterpreted as itself.
    is::<X, Y>().then(|| unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<Y>(), x.len()) })
}

/// [`as_same`] for a mutable slice.
pub(crate) fn as_same_mut<X: 'static, Y: 'static>(x: &mut [X]) -> Option<&mut [Y]> {
    // SAFETY: as in `as_same`; the borrow is moved into the result.
    is::<X, Y>().then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<Y>(), x.len()) })
}

/// True for the 8-bit integer element types (their zero-point-adjusted values fit i16).
#[cfg(target_arch = "x86_64")]
fn int8<X: 'static>() -> bool {
    is::<X, u8>() || is::<X, i8>()
}

impl GemmAcc for f32 {
    fn gemm<A: MatSrc, B: MatSrc, T: Elem, E: TileEpi<f32, T>>(p: &Product<'_, A, B>, dst: &mut [T], epi: &E) {
        let bf16_pair = is::<A::T, half::bf16>() && is::<B::T, half::bf16>();
        match p.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Amx if bf16_pair => run::<super::arch::x86_64::amx::Bf16, _, _, _, _>(p, dst, epi, [0, 0]),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if bf16_pair && isa::features().avx512_bf16 => {
                run::<super::arch::x86_64::avx512::Bf16, _, _, _, _>(p, dst, epi, [0, 0])
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 | Isa::Amx => run::<super::arch::x86_64::avx512::F32, _, _, _, _>(p, dst, epi, [0, 0]),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => run::<super::arch::x86_64::avx2::F32, _, _, _, _>(p, dst, epi, [0, 0]),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => run::<super::arch::aarch64::neon::F32, _, _, _, _>(p, dst, epi, [0, 0]),
            _ => run::<scalar::ScalarF32, _, _, _, _>(p, dst, epi, [0, 0]),
        }
    }
}

impl GemmAcc for i32 {
    fn gemm<A: MatSrc, B: MatSrc, T: Elem, E: TileEpi<i32, T>>(p: &Product<'_, A, B>, dst: &mut [T], epi: &E) {
        // VNNI multiplies unsigned by signed bytes: B is the unsigned side only when it holds
        // u8 (convolution activations); otherwise A is, shifted by +128 when it holds i8.
        let b_unsigned = is::<B::T, u8>();
        let shift = |signed: bool| if signed { 128 } else { 0 };
        let (sa, sb) = (shift(is::<A::T, i8>()), shift(is::<B::T, i8>()));
        #[cfg(target_arch = "x86_64")]
        {
            use super::arch::x86_64::{amx, avx2, avx512};
            let f = isa::features();
            match p.isa {
                Isa::Amx if b_unsigned => return run::<amx::I8U8, _, _, _, _>(p, dst, epi, [0, sb]),
                Isa::Amx => return run::<amx::U8I8, _, _, _, _>(p, dst, epi, [sa, 0]),
                Isa::Avx512 if f.avx512_vnni && b_unsigned => {
                    return run::<avx512::I8U8, _, _, _, _>(p, dst, epi, [0, sb]);
                }
                Isa::Avx512 if f.avx512_vnni => return run::<avx512::U8I8, _, _, _, _>(p, dst, epi, [sa, 0]),
                Isa::Avx2 | Isa::Avx512 if f.avx_vnni && b_unsigned => {
                    return run::<avx2::I8U8, _, _, _, _>(p, dst, epi, [0, sb]);
                }
                Isa::Avx2 | Isa::Avx512 if f.avx_vnni => return run::<avx2::U8I8, _, _, _, _>(p, dst, epi, [sa, 0]),
                // No VNNI: i16 pairs through `vpmaddwd` (AVX-512 machines all have AVX2).
                Isa::Avx2 | Isa::Avx512 if int8::<A::T>() && int8::<B::T>() => {
                    return run::<avx2::Madd16, _, _, _, _>(p, dst, epi, [p.za, p.zb]);
                }
                _ => {}
            }
        }
        let _ = (b_unsigned, sa, sb);
        run::<scalar::ScalarI32, _, _, _, _>(p, dst, epi, [p.za, p.zb])
    }
}

/// `*mut T` shared by tasks that write disjoint tiles.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
// SAFETY: tasks only write disjoint tiles through it (see `run`).
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Shared<T> {}

/// Block sizes for a family on this machine's caches.
#[derive(Debug, Clone, Copy)]
struct Blocking {
    /// k per block (a multiple of KG unless it is all of k).
    kc: usize,
    /// k blocks.
    passes: usize,
    /// Columns per L2 block (a multiple of NR).
    nc: usize,
}

impl Blocking {
    fn new<F: Family>(k: usize) -> Blocking {
        let c = isa::caches();
        let unit = F::KG.max(F::KT).max(16);
        // The A micro-panel (MR × kc) takes 3/4 of L1; B streams through the rest from L2.
        // (Measured on Zen 5: 3/4 beats 1/2 by ~2% at n = 512..2048; 9/10 is no better.)
        let kc_max = ((c.l1d * 3 / 4) / (F::MR * std::mem::size_of::<F::PA>())).clamp(64, 1024) / unit * unit;
        // AMX tiles (KT): a tile call's fixed cost (zeroing the tiles, the 4 KiB store through
        // the epilogue) wants long k, and the tile loads stream an L2-resident A panel well: k
        // blocks of up to 2048, an A panel of an L2's sixteenth (Sapphire Rapids, in-process
        // A/B against 1024: bf16 2048³ 1.33×, int8 2048³ 1.17×; 4096 no better).
        let kc_max = match F::KT {
            0 => kc_max,
            _ => (c.l2 / 16 / (F::MR * std::mem::size_of::<F::PA>())).clamp(256, 2048) / unit * unit,
        };
        let passes = k.div_ceil(kc_max).max(1);
        let kc = k_padded::<F>(k.div_ceil(passes));
        let nc_cols = (c.l2 / 2) / (kc.max(F::KG) * std::mem::size_of::<F::PB>());
        let nc = (nc_cols / F::NR).max(1) * F::NR;
        Blocking { kc, passes, nc }
    }
}

/// Per-core L2 from which every task may read a large A in place (see `run_erased`).
const LARGE_L2: usize = 2 << 20;

/// One task's share of C and its private buffers.
struct Task<F: Family> {
    r0: usize,
    rows: usize,
    c0: usize,
    cols: usize,
    a: LineBuf<F::PA>,
    /// The task's own packed B block (`kc × nc`) when B is packed per task (see `run_erased`).
    b: LineBuf<F::PB>,
    /// Row sums of the encoded A rows over all k blocks so far (VNNI corrections).
    a_sums: Vec<i32>,
    /// The raw tile and its finished form for the generic epilogue.
    raw: Vec<F::V>,
}

/// Splits C into tasks: row ranges (whole MR panels) when there are enough rows for every
/// thread, else rows × column ranges (whole NR panels); column ranges alone when C is wide
/// (at least 4× as many column panels as row panels) or when every task can read all of A
/// in place (`a_shared`: A read in place, and at most 4 L2s of it unless L2 is large), if
/// the column ranges come out within 3/4 of each other. One
/// task per thread: four per thread, claimed as threads arrive, measured no faster on two
/// threads at 256³–512³ and slower at 128³.
fn plan<F: Family>(m: usize, n: usize, threads: usize, a_shared: bool) -> Vec<Task<F>> {
    let (rp, cp) = (m.div_ceil(F::MR), n.div_ceil(F::NR));
    // Wide products (a convolution's few output channels over many pixels) split columns
    // only, so each task packs just its own columns of B (see `run_erased`). So do products
    // whose A every task can read in place: no task then waits for B packed by another, nor
    // reads it from the other core's cache (Zen 3, two threads, in-process A/B: 256³ +0.5 to
    // +5 % and 512³ +1 to +4 % in five runs each, ResNet-50 res3's 3×3 layer +10 %; at 1024³,
    // 4 MiB of A, −4 %, hence the bound).
    // Only when the column ranges come out even: a short last panel left one task of two
    // with 68 of 196 columns (ResNet-50's 14×14 layers, two threads: rows split instead,
    // in-process A/B on Sapphire Rapids, res4 1×1 256>1024 1.24×, 3×3 1.04×).
    let width = |ci: usize| ((cp * (ci + 1) / threads) * F::NR).min(n) - (cp * ci / threads) * F::NR;
    let widths = (0..threads).map(width);
    let even = 4 * widths.clone().min().unwrap_or(0) >= 3 * widths.max().unwrap_or(0);
    let wide = !F::CORRECTED && (a_shared || cp >= 4 * rp) && cp >= threads && even;
    let row_splits = if wide { 1 } else { rp.min(threads).max(1) };
    let col_splits = threads.div_ceil(row_splits).min(cp).max(1);
    let mut tasks = Vec::with_capacity(row_splits * col_splits);
    for ri in 0..row_splits {
        let (p0, p1) = (rp * ri / row_splits, rp * (ri + 1) / row_splits);
        let (r0, r1) = (p0 * F::MR, (p1 * F::MR).min(m));
        for ci in 0..col_splits {
            let (q0, q1) = (cp * ci / col_splits, cp * (ci + 1) / col_splits);
            let (c0, c1) = (q0 * F::NR, (q1 * F::NR).min(n));
            if r1 > r0 && c1 > c0 {
                tasks.push(Task {
                    r0,
                    rows: r1 - r0,
                    c0,
                    cols: c1 - c0,
                    a: LineBuf::new(),
                    b: LineBuf::new(),
                    a_sums: Vec::new(),
                    raw: Vec::new(),
                });
            }
        }
    }
    tasks
}

/// Zero-point corrections of a VNNI product (see `gemm` module docs): for encoded
/// offsets `oa`, `ob`, `C = Σ a'b' − ob·ΣA'[i] − oa·ΣB'[j] + k·oa·ob`.
#[derive(Debug, Clone, Copy)]
struct Offsets {
    oa: i32,
    ob: i32,
    k: i32,
}

impl Offsets {
    fn row(&self, a_sum: i32) -> i32 {
        self.k.wrapping_mul(self.oa).wrapping_mul(self.ob).wrapping_sub(self.ob.wrapping_mul(a_sum))
    }
    fn col(&self, b_sum: i32) -> i32 {
        self.oa.wrapping_mul(b_sum).wrapping_neg()
    }
}

/// Finishes a raw tile of C with the general epilogue (type-erased over the output type, so
/// the driver is compiled once per family and operand pair, not per output type too).
trait Finisher<V>: Sync {
    /// Finishes `raw` (row stride `tile.cols`) into tile `tile` of C.
    fn finish(&self, tile: Tile, raw: &mut [V]);
}

/// [`Finisher`] for output type `T` and epilogue `E` over a dense `m × n` C.
struct GenericFinish<'a, T, E> {
    epi: &'a E,
    out: Shared<T>,
    n: usize,
}

impl<V, T: Elem, E: TileEpi<V, T>> Finisher<V> for GenericFinish<'_, T, E> {
    fn finish(&self, tile: Tile, raw: &mut [V]) {
        let len = tile.rows * tile.cols;
        let mut tmp = vec![T::default(); len];
        let base = self.out.0.wrapping_add(tile.r0 * self.n + tile.c0);
        if self.epi.reads_prev() {
            for (i, row) in tmp.chunks_exact_mut(tile.cols).enumerate() {
                // SAFETY: row i of the calling task's tile of C; no other task touches it.
                unsafe { std::ptr::copy_nonoverlapping(base.wrapping_add(i * self.n), row.as_mut_ptr(), tile.cols) };
            }
        }
        self.epi.apply(tile, &mut raw[..len], &mut tmp, tile.cols);
        for (i, row) in tmp.chunks_exact(tile.cols).enumerate() {
            // SAFETY: as above.
            unsafe { std::ptr::copy_nonoverlapping(row.as_ptr(), base.wrapping_add(i * self.n), tile.cols) };
        }
    }
}

/// The output as the driver sees it: bytes, and what the epilogue allows.
struct OutDesc<'e, V> {
    ptr: Shared<u8>,
    /// Bytes per element.
    size: usize,
    /// Partial sums may accumulate in C itself (C has the accumulator type and the epilogue
    /// does not read its previous contents).
    accumulates: bool,
    fast: Option<FastPlan<'e, V>>,
}

/// Runs one product on family `F`; `enc` are the A and B encoding parameters (zero points on
/// the portable int path, +128 shifts on an unsigned VNNI side).
fn run<F: Family, A: MatSrc, B: MatSrc, T: Elem, E: TileEpi<F::V, T>>(
    p: &Product<'_, A, B>,
    dst: &mut [T],
    epi: &E,
    enc: [i32; 2],
) {
    let finisher = GenericFinish { epi, out: Shared(dst.as_mut_ptr()), n: p.n };
    let out = OutDesc {
        ptr: Shared(dst.as_mut_ptr().cast::<u8>()),
        size: std::mem::size_of::<T>(),
        accumulates: out_kind::<F::V, T>() == Some(OutKind::Acc) && !epi.reads_prev(),
        fast: epi.fast(),
    };
    run_erased::<F, A, B>(p, out, &finisher, enc);
}

/// [`run`] past the output type.
fn run_erased<F: Family, A: MatSrc, B: MatSrc>(
    p: &Product<'_, A, B>,
    out_desc: OutDesc<'_, F::V>,
    finisher: &dyn Finisher<F::V>,
    enc: [i32; 2],
) {
    let (m, n, k) = (p.m, p.n, p.k);
    if m == 0 || n == 0 {
        return;
    }
    let out = Out { ptr: out_desc.ptr, size: out_desc.size };
    if let Some((a_in, b_in)) = small_in_place::<F, A, B>(p) {
        // Small product: one task, one k block, operands read in place.
        let mut tasks = plan::<F>(m, n, 1, false);
        let blk = Blocking { kc: k, passes: 1, nc: n.next_multiple_of(F::NR) };
        let offs = Offsets { oa: 0, ob: 0, k: 0 };
        let acc = Shared(std::ptr::null_mut());
        let fast = out_desc.fast;
        let pass = Pass {
            p,
            finisher,
            blk,
            p0: 0,
            kc: k,
            first: true,
            last: true,
            fast,
            offs,
            enc,
            acc,
            out,
            bpack: &[],
            own_b: false,
            col_add: None,
            a_in: Some(a_in),
            b_in: Some(b_in),
        };
        tasks.iter_mut().for_each(|t| pass.task(t));
        return;
    }
    let blk = Blocking::new::<F>(k);
    let (a_in, b_in) = (InPlaceA::<F>::large(p), InPlaceB::<F>::large(p));
    let threads = if m.saturating_mul(n).saturating_mul(k.max(1)) < SERIAL_MACS { 1 } else { par::threads() };
    let serial = threads == 1;
    // Every task reading all of A in place costs each core the same A stream as a row split
    // (each re-reads its rows once per column block either way) but spares the B hand-off;
    // where L2 is small, a large A was measured slower that way (Zen 3, 512 KiB L2: 1024³
    // 0.96×), hence the bound there; with 2 MiB L2s it wins at every size (Sapphire Rapids,
    // in-process A/B on two threads: 2048³ 1.07×, 4096³ 1.13×).
    let l2 = isa::caches().l2;
    let a_bytes = m.saturating_mul(p.k).saturating_mul(std::mem::size_of::<F::PA>());
    let a_shared = a_in.is_some() && (l2 >= LARGE_L2 || a_bytes <= 4 * l2);
    let mut tasks = plan::<F>(m, n, threads, a_shared);
    let fast = out_desc.fast;
    // Offsets of the encoded values (VNNI): the unsigned side carries its shift.
    let offs = Offsets { oa: enc[0].wrapping_add(p.za), ob: enc[1].wrapping_add(p.zb), k: k as i32 };
    let into_dst = out_desc.accumulates;
    let mut scratch: Vec<F::V> = if blk.passes > 1 && !into_dst { vec![F::V::default(); m * n] } else { Vec::new() };
    let acc: Shared<F::V> =
        if scratch.is_empty() { Shared(out.ptr.0.cast::<F::V>()) } else { Shared(scratch.as_mut_ptr()) };
    let panels = n.div_ceil(F::NR);
    // Tasks that own all rows of their columns pack their B blocks themselves, one L2-sized
    // block at a time just before its tiles, which then read it from cache (level with one
    // shared B on one thread, and no cross-thread packing); tasks that share columns share
    // one B packed up front.
    let own_b = b_in.is_none() && !F::CORRECTED && tasks.iter().all(|t| t.rows == m);
    let shared_b = b_in.is_none() && !own_b;
    let mut bpack = LineBuf::<F::PB>::with_len(if shared_b { b_len::<F>(blk.kc, n) } else { 0 });
    let mut col_sums = vec![0i32; if F::CORRECTED { panels * F::NR } else { 0 }];
    for pass in 0..blk.passes {
        let p0 = pass * blk.kc;
        let kc = blk.kc.min(k - p0.min(k));
        let panel_len = k_padded::<F>(kc) * F::NR;
        let bp = &mut bpack[..if shared_b { panel_len * panels } else { 0 }];
        if panel_len > 0 && shared_b {
            let jobs = if serial { 1 } else { 2 * par::threads() };
            let per = panels.div_ceil(jobs).max(1);
            if F::CORRECTED {
                // Groups of panels packed row by row (see `pack_b_panels`), then each
                // panel's column sums.
                let sums = |((g, out), s): ((usize, &mut [F::PB]), &mut [i32])| {
                    let j0 = g * per * F::NR;
                    pack_b_panels::<F, B>(p.b, enc[1], p0..p0 + kc, j0, n, panel_len, out);
                    for ((q, panel), s) in out.chunks_exact(panel_len).enumerate().zip(s.chunks_mut(F::NR)) {
                        b_sums::<F>(panel, F::NR.min(n - j0 - q * F::NR), s);
                    }
                };
                let jobs = bp.chunks_mut(panel_len * per).enumerate().zip(col_sums.chunks_mut(F::NR * per));
                if serial {
                    jobs.for_each(sums);
                } else {
                    let mut jobs: Vec<_> = jobs.collect();
                    par::for_each_mut(&mut jobs, |((g, out), s)| sums(((*g, &mut **out), &mut **s)));
                }
            } else {
                // Whole groups of panels per job, packed row by row (see `pack_b_panels`);
                // fewer panels than jobs (a 7×7 convolution output is one panel) are split
                // into k ranges instead, else one thread gathers the whole block while the
                // others wait (ResNet-50 res5 3×3 layers, two threads, in-process A/B on
                // Sapphire Rapids: 1.15× stride 1, 1.24× stride 2).
                let group = |g: usize, out: &mut [F::PB]| {
                    pack_b_panels::<F, B>(p.b, enc[1], p0..p0 + kc, g * per * F::NR, n, panel_len, out)
                };
                if serial {
                    group(0, bp);
                } else if F::KG == 1 && F::KT == 0 && panels < jobs {
                    // Single k values: k rows `k0..` of panel `q` are one contiguous run.
                    let rows = kc.div_ceil(jobs.div_ceil(panels));
                    let mut parts: Vec<_> = bp
                        .chunks_mut(panel_len)
                        .enumerate()
                        .flat_map(|(q, panel)| {
                            panel.chunks_mut(rows * F::NR).enumerate().map(move |(r, c)| (q, r * rows, c))
                        })
                        .collect();
                    par::for_each_mut(&mut parts, |(q, k0, part)| {
                        let k0 = p0 + *k0;
                        let len = part.len();
                        pack_b_panels::<F, B>(p.b, enc[1], k0..k0 + len / F::NR, *q * F::NR, n, len, part)
                    });
                } else {
                    par::chunks(bp, panel_len * per, group);
                }
            }
        }
        let last = pass + 1 == blk.passes;
        // Per-column addends of the finishing step: corrections and/or a column bias.
        let col_add: Option<Vec<F::V>> = (last && F::CORRECTED).then(|| {
            let bias = fast.as_ref().and_then(|f| if f.axis == ChanAxis::Col { f.bias } else { None });
            (0..n)
                .map(|j| {
                    let c = F::V::from_i32(offs.col(col_sums[j]));
                    bias.map_or(c, |b| c.add(b[j]))
                })
                .collect()
        });
        let first = pass == 0;
        let pass = Pass {
            p,
            finisher,
            blk,
            p0,
            kc,
            first,
            last,
            fast,
            offs,
            enc,
            acc,
            out,
            bpack: &bpack,
            own_b,
            col_add,
            a_in,
            b_in,
        };
        if serial {
            tasks.iter_mut().for_each(|t| pass.task(t));
        } else {
            par::for_each_mut(&mut tasks, |t| pass.task(t));
        }
    }
}

/// One k block of one product, shared by its tasks.
struct Pass<'p, 'q, A, B, F: Family> {
    p: &'p Product<'q, A, B>,
    finisher: &'p dyn Finisher<F::V>,
    blk: Blocking,
    p0: usize,
    kc: usize,
    first: bool,
    last: bool,
    fast: Option<FastPlan<'p, F::V>>,
    offs: Offsets,
    enc: [i32; 2],
    acc: Shared<F::V>,
    out: Out,
    bpack: &'p [F::PB],
    /// Each task packs its own B blocks (into `Task::b`) instead of reading `bpack`.
    own_b: bool,
    col_add: Option<Vec<F::V>>,
    /// Operands read in place instead of packed (see [`InPlaceA`], [`InPlaceB`]).
    a_in: Option<InPlaceA<F>>,
    b_in: Option<InPlaceB<F>>,
}

/// C as bytes: element `i` lives at `ptr + i·size`.
#[derive(Clone, Copy)]
struct Out {
    ptr: Shared<u8>,
    size: usize,
}

/// A read in place: element `(i, p)` at `a + i·rsa + p·csa`.
struct InPlaceA<F: Family> {
    a: Shared<F::PA>,
    rsa: usize,
    csa: usize,
}

/// B read in place: row `p` at `b + p·rsb`, columns contiguous.
struct InPlaceB<F: Family> {
    b: Shared<F::PB>,
    rsb: usize,
}

impl<F: Family> Clone for InPlaceA<F> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F: Family> Copy for InPlaceA<F> {}
impl<F: Family> Clone for InPlaceB<F> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F: Family> Copy for InPlaceB<F> {}

/// Whether family `F` can read an operand of element type `T` in place (its direct tile).
fn direct_for<F: Family, T: 'static, P: 'static>() -> bool {
    F::DIRECT && F::KG == 1 && is::<T, P>()
}

impl<F: Family> InPlaceA<F> {
    fn of<A: MatSrc>(a: &A) -> Option<InPlaceA<F>> {
        let (data, base, rsa, csa) = a.strided()?;
        Some(InPlaceA { a: Shared(data.as_ptr().wrapping_add(base).cast::<F::PA>().cast_mut()), rsa, csa })
    }

    /// A in place in a large product when it is a row-major view (packing would only copy
    /// it) and the tile's rows cannot thrash an L1 set: with more than 8 rows per tile, row
    /// strides that are multiples of 2 KiB put six or more of them in one 4 KiB-periodic set,
    /// so those are still packed; 8 rows or fewer fit in a set's ways at any stride.
    /// (Measured with the 6-row AVX-512 f32 tile at 1024³ and 2048³: in place 3–4% faster.)
    fn large<A: MatSrc, B: MatSrc>(p: &Product<'_, A, B>) -> Option<InPlaceA<F>> {
        if !direct_for::<F, A::T, F::PA>() {
            return None;
        }
        let a = Self::of(p.a)?;
        let row_bytes = a.rsa * std::mem::size_of::<F::PA>();
        (a.csa == 1 && (p.m == 1 || F::MR <= 8 || !row_bytes.is_multiple_of(2048))).then_some(a)
    }
}

impl<F: Family> InPlaceB<F> {
    fn of<B: MatSrc>(b: &B, n: usize) -> Option<InPlaceB<F>> {
        let (data, base, rsb, csb) = b.strided()?;
        (csb == 1 || n == 1)
            .then(|| InPlaceB { b: Shared(data.as_ptr().wrapping_add(base).cast::<F::PB>().cast_mut()), rsb })
    }

    /// B in place in a large product when its rows are contiguous, all of it fits in L2,
    /// where the tiles re-read it from cache (packing would only copy it), and its row stride
    /// spreads a panel's rows over the L1 sets and is aligned as the family asks
    /// ([`Family::IN_PLACE_B_SPREAD`], [`Family::IN_PLACE_B_ALIGN`]). (Measured: 512³
    /// 96 -> 102 GFLOP/s in place on Zen 5 with AVX-512; beyond L2, at 1024³ and 2048³,
    /// packed is 2–4% faster.)
    fn large<A: MatSrc, B: MatSrc>(p: &Product<'_, A, B>) -> Option<InPlaceB<F>> {
        let bytes = p.k.saturating_mul(p.n).saturating_mul(std::mem::size_of::<F::PB>());
        if !direct_for::<F, B::T, F::PB>() || bytes > isa::caches().l2 {
            return None;
        }
        let b = Self::of(p.b, p.n)?;
        let row_bytes = b.rsb * std::mem::size_of::<F::PB>();
        let spread = row_offsets_mod_4k(row_bytes) >= F::IN_PLACE_B_SPREAD;
        (p.k <= 1 || (spread && row_bytes.is_multiple_of(F::IN_PLACE_B_ALIGN))).then_some(b)
    }
}

/// Distinct offsets modulo 4 KiB of rows `row_bytes` apart: how many L1 set groups a column
/// strip of such rows can use (L1 sets repeat every 4 KiB on the cores we tune for).
fn row_offsets_mod_4k(row_bytes: usize) -> usize {
    const PAGE: usize = 4096;
    let mut g = (PAGE, row_bytes % PAGE);
    while g.1 != 0 {
        g = (g.1, g.0 % g.1);
    }
    PAGE / g.0
}

/// Both operands in place for a small product (m, n, k ≤ SMALL_DIM): no packing at all.
fn small_in_place<F: Family, A: MatSrc, B: MatSrc>(p: &Product<'_, A, B>) -> Option<(InPlaceA<F>, InPlaceB<F>)> {
    let small = p.m.max(p.n).max(p.k) <= SMALL_DIM;
    if !small || !direct_for::<F, A::T, F::PA>() || !direct_for::<F, B::T, F::PB>() {
        return None;
    }
    Some((InPlaceA::of(p.a)?, InPlaceB::of(p.b, p.n)?))
}

impl<A: MatSrc, B: MatSrc, F: Family> Pass<'_, '_, A, B, F> {
    /// Packs the task's A rows for this k block and computes its tiles.
    fn task(&self, t: &mut Task<F>) {
        let (mr, nr, n) = (F::MR, F::NR, self.p.n);
        if self.a_in.is_none() {
            t.a.resize(a_len::<F>(t.rows, self.kc));
            pack_a::<F, A>(self.p.a, self.enc[0], t.r0, t.rows, self.p0, self.kc, &mut t.a);
        }
        if F::CORRECTED {
            if self.first {
                t.a_sums = vec![0; t.rows];
            }
            a_sums::<F>(&t.a, t.rows, self.kc, &mut t.a_sums);
        }
        // Per-row addends of the finishing step: corrections and/or a row (channel) bias.
        let row_bias = self.fast.as_ref().and_then(|f| if f.axis == ChanAxis::Row { f.bias } else { None });
        let row_add: Option<Vec<F::V>> = (self.last && F::CORRECTED).then(|| {
            (0..t.rows)
                .map(|i| {
                    let c = F::V::from_i32(self.offs.row(t.a_sums[i]));
                    row_bias.map_or(c, |b| c.add(b[self.fast_row_base() + t.r0 + i]))
                })
                .collect()
        });
        let col_bias = self.fast.as_ref().and_then(|f| if f.axis == ChanAxis::Col { f.bias } else { None });
        // Column and row addend bases, indexed by global column / task row.
        let col_base: *const F::V = match (&self.col_add, col_bias) {
            (Some(c), _) => c.as_ptr(),
            (None, Some(b)) => b.as_ptr(),
            (None, None) => std::ptr::null(),
        };
        let row_base: *const F::V = match (&row_add, row_bias) {
            (Some(r), _) => r.as_ptr(),
            (None, Some(b)) => b[self.fast_row_base() + t.r0..].as_ptr(),
            (None, None) => std::ptr::null(),
        };
        let fin = |j0: usize, i: usize| -> Option<Fin<F::V>> {
            let (alpha, act, out) = match &self.fast {
                Some(f) => (f.alpha, f.act, f.out),
                None if F::CORRECTED => (1.0, FastAct::None, OutKind::Acc),
                None => return None,
            };
            Some(Fin {
                alpha,
                col: if col_base.is_null() { col_base } else { col_base.wrapping_add(j0) },
                row: if row_base.is_null() { row_base } else { row_base.wrapping_add(i) },
                act,
                out,
            })
        };
        let generic = self.last && self.fast.is_none();
        if generic {
            t.raw.resize(mr * nr, F::V::default());
        }
        let kg = k_groups::<F>(self.kc);
        let (a_panel, b_panel) = (kg * mr * F::KG, kg * nr * F::KG);
        let c_end = t.c0 + t.cols;
        // SAFETY: the family matches the active ISA; the tiles below run on this thread, and
        // only this function's code runs between the two calls.
        unsafe { F::begin_tiles() };
        for jc in (t.c0..c_end).step_by(self.blk.nc) {
            let jc_end = c_end.min(jc + self.blk.nc);
            if self.own_b {
                t.b.resize((jc_end - jc).div_ceil(nr) * b_panel);
                pack_b_panels::<F, B>(self.p.b, self.enc[1], self.p0..self.p0 + self.kc, jc, jc_end, b_panel, &mut t.b);
            }
            let (b_block, b_first) = if self.own_b { (t.b.as_ptr(), jc) } else { (self.bpack.as_ptr(), 0) };
            for pi in 0..t.rows.div_ceil(mr) {
                let i0 = t.r0 + pi * mr;
                let mrv = mr.min(t.r0 + t.rows - i0);
                let ap = t.a.as_ptr().wrapping_add(pi * a_panel);
                for j0 in (jc..jc_end).step_by(nr) {
                    let nrv = nr.min(n - j0);
                    let bp = b_block.wrapping_add((j0 - b_first) / nr * b_panel);
                    let at = i0 * n + j0;
                    let prev = if self.first { std::ptr::null() } else { self.acc.0.wrapping_add(at).cast_const() };
                    let mut io =
                        TileIo { prev, ldp: n, dst: std::ptr::null_mut(), ldd: n, mr: mrv, nr: nrv, fin: None };
                    if !self.last {
                        io.dst = self.acc.0.wrapping_add(at).cast();
                    } else if !generic {
                        io.dst = self.out.ptr.0.wrapping_add(at * self.out.size);
                        io.fin = fin(j0, i0 - t.r0);
                    } else {
                        io.dst = t.raw.as_mut_ptr().cast();
                        io.ldd = nrv;
                        io.fin = fin(j0, i0 - t.r0);
                    }
                    // SAFETY: `ap` / `bp` point at whole packed panels of `kg` groups; `prev`
                    // and `dst` cover this task's tile (tasks own disjoint tiles of C, and of
                    // the scratch) or the task's private raw tile; `fin`'s addends hold the
                    // tile's columns and rows; the family matches the active ISA. In-place
                    // operands are the validated views of A and B (`InPlaceA`, `InPlaceB`),
                    // offset to this tile's rows, columns and k block.
                    unsafe {
                        match (&self.a_in, &self.b_in) {
                            (None, None) => F::tile(kg, ap, bp, &io),
                            (a_in, b_in) => {
                                // A packed panel is a view too: rows 1 apart, k steps MR apart.
                                let (a, rsa, csa) = match a_in {
                                    Some(d) => (d.a.0.wrapping_add(i0 * d.rsa + self.p0 * d.csa), d.rsa, d.csa),
                                    None => (ap.cast_mut(), 1, mr),
                                };
                                let (b, rsb) = match b_in {
                                    Some(d) => (d.b.0.wrapping_add(self.p0 * d.rsb + j0), d.rsb),
                                    None => (bp.cast_mut(), nr),
                                };
                                F::tile_direct(self.kc, a.cast_const(), rsa, csa, b.cast_const(), rsb, &io)
                            }
                        }
                    };
                    if generic {
                        self.finisher.finish(Tile { r0: i0, c0: j0, rows: mrv, cols: nrv }, &mut t.raw);
                    }
                }
            }
        }
        // SAFETY: as for `begin_tiles` above.
        unsafe { F::end_tiles() };
    }

    /// The channel of row 0 for a row-channel bias.
    fn fast_row_base(&self) -> usize {
        self.fast.as_ref().map_or(0, |f| f.row_base)
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
        V: GemmAcc,
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
#[path = "gemm_tests.rs"]
mod tests;
