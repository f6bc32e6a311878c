//! GEMM operands and packing.
//!
//! A [`MatSrc`] is a logical matrix the GEMM reads while packing: `get(r, c)` returns the raw
//! storage element (padding reads as the source's pad value). Sources cover any strided view
//! ([`StridedMat`]), convolution weights with a per-column offset table ([`TableMat`]) and the
//! implicit im2col matrix of a convolution input (`patches::Patches`), so no operand is ever
//! materialised beyond one packed block. Sources that are contiguous along a row or a column
//! say so ([`MatSrc::row_run`], [`MatSrc::col_run`]) and are packed from slices.
//!
//! Packed layouts are the family's (see `arch`): A blocks are `MR`-row panels
//! `[kc/KG][MR][KG]` (k-tiled `[kc/KT][MR][KT]` for AMX), B blocks `NR`-column panels
//! `[kc/KG][NR][KG]`, each element encoded by the family (`enc_a` / `enc_b`); edges are zero
//! so the microkernel always sees full panels.

use super::arch::{Family, k_padded};
use super::dtype::Elem;
use super::gemm::is;
use half::{bf16, f16};

/// Conversion of a storage element into an accumulator value for the direct (non-GEMM) loops
/// of depthwise and transposed convolution.
pub(crate) trait ToAcc<V>: Elem {
    /// The value as an accumulator operand (`zp` is subtracted on the int8 path).
    fn to_acc(self, zp: i32) -> V;
}

macro_rules! float_to_acc {
    ($($t:ty),*) => {$(
        impl ToAcc<f32> for $t {
            #[inline(always)]
            fn to_acc(self, _zp: i32) -> f32 {
                Elem::to_f32(self)
            }
        }
    )*};
}
float_to_acc!(f32, f16, bf16);

macro_rules! int_to_acc {
    ($($t:ty),*) => {$(
        impl ToAcc<i32> for $t {
            #[inline(always)]
            fn to_acc(self, zp: i32) -> i32 {
                // |self - zp| <= 255: never overflows.
                self as i32 - zp
            }
        }
    )*};
}
int_to_acc!(i8, u8);

/// A logical matrix read while packing.
pub(crate) trait MatSrc: Sync {
    /// Storage element.
    type T: Elem;
    /// Element `(r, c)` (the pad value where the matrix reads padding).
    fn get(&self, r: usize, c: usize) -> Self::T;
    /// Elements `(r, c..c + len)` when they are contiguous in memory.
    fn row_run(&self, _r: usize, _c: usize, _len: usize) -> Option<&[Self::T]> {
        None
    }
    /// Elements `(r..r + len, c)` when they are contiguous in memory.
    fn col_run(&self, _r: usize, _c: usize, _len: usize) -> Option<&[Self::T]> {
        None
    }
    /// The whole buffer, the offset of element (0, 0) and the row and column strides, for
    /// sources that are a plain strided view (small products read them without packing).
    fn strided(&self) -> Option<(&[Self::T], usize, usize, usize)> {
        None
    }
    /// Copies elements `(r, c..c + out.len())` into `out`; sources with a faster gather than
    /// element-by-element [`MatSrc::get`] (convolution patches: runs along output rows,
    /// padding filled in bulk) override it.
    fn row_into(&self, r: usize, c: usize, out: &mut [Self::T]) {
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.get(r, c + j);
        }
    }
}

/// Element `(r, c)` at `base + r·rs + c·cs` (any strided view).
pub(crate) struct StridedMat<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) base: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

impl<T: Elem> MatSrc for StridedMat<'_, T> {
    type T = T;
    #[inline(always)]
    fn get(&self, r: usize, c: usize) -> T {
        self.data[self.base + r * self.rs + c * self.cs]
    }
    fn row_run(&self, r: usize, c: usize, len: usize) -> Option<&[T]> {
        let at = self.base + r * self.rs + c * self.cs;
        (self.cs == 1 || len <= 1).then(|| &self.data[at..at + len])
    }
    fn col_run(&self, r: usize, c: usize, len: usize) -> Option<&[T]> {
        let at = self.base + r * self.rs + c * self.cs;
        (self.rs == 1 || len <= 1).then(|| &self.data[at..at + len])
    }
    fn strided(&self) -> Option<(&[T], usize, usize, usize)> {
        Some((self.data, self.base, self.rs, self.cs))
    }
}

/// Element `(r, c)` at `base + r·rs + coff[c]` (convolution weights: `c` is a flattened
/// `(channel, ky, kx)` tap); `dense` when `coff[c] = c`.
pub(crate) struct TableMat<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) base: usize,
    pub(crate) rs: usize,
    pub(crate) coff: &'a [usize],
    pub(crate) dense: bool,
}

impl<T: Elem> MatSrc for TableMat<'_, T> {
    type T = T;
    #[inline(always)]
    fn get(&self, r: usize, c: usize) -> T {
        self.data[self.base + r * self.rs + self.coff[c]]
    }
    fn row_run(&self, r: usize, c: usize, len: usize) -> Option<&[T]> {
        let at = self.base + r * self.rs + c;
        self.dense.then(|| &self.data[at..at + len])
    }
    /// Dense weights are a plain row-major view, which the GEMM may read without packing
    /// (ResNet-50 res5 1×1 on Zen 3: packing the 4 MiB of weights for 49 output pixels took a
    /// third of the layer).
    fn strided(&self) -> Option<(&[T], usize, usize, usize)> {
        self.dense.then_some((self.data, self.base, self.rs, 1))
    }
}

/// Length of a packed A block of `rows × kc`.
pub(crate) fn a_len<F: Family>(rows: usize, kc: usize) -> usize {
    rows.div_ceil(F::MR) * k_padded::<F>(kc) * F::MR
}

/// Length of a packed B block of `kc × cols`.
pub(crate) fn b_len<F: Family>(kc: usize, cols: usize) -> usize {
    cols.div_ceil(F::NR) * k_padded::<F>(kc) * F::NR
}

/// Packs rows `r0..r0 + rows`, columns `c0..c0 + kc` of `src` into `MR`-row panels
/// (`dst.len() == a_len(rows, kc)`), encoding with parameter `p`.
pub(crate) fn pack_a<F: Family, S: MatSrc>(
    src: &S,
    p: i32,
    r0: usize,
    rows: usize,
    c0: usize,
    kc: usize,
    dst: &mut [F::PA],
) {
    if F::KT > 0 {
        return pack_a_ktiled::<F, S>(src, p, r0, rows, c0, kc, dst);
    }
    let (mr, kg) = (F::MR, F::KG);
    let panel = kc.div_ceil(kg) * mr * kg;
    if panel == 0 {
        return;
    }
    for (pi, out) in dst.chunks_exact_mut(panel).enumerate() {
        let i0 = pi * mr;
        let h = mr.min(rows - i0);
        if h < mr || !kc.is_multiple_of(kg) {
            out.fill(F::PA::default());
        }
        if h == mr && mr <= 16 && kc.is_multiple_of(kg) && pack_a_rows::<F, S>(src, p, r0 + i0, c0, kc, out) {
            continue;
        }
        for i in 0..h {
            let r = r0 + i0 + i;
            // Element kk of the row goes to group kk / KG, lane i, slot kk % KG.
            match src.row_run(r, c0, kc) {
                Some(run) if kg == 1 => {
                    for (o, &x) in out.chunks_exact_mut(mr).zip(run) {
                        o[i] = F::enc_a(x, p);
                    }
                }
                Some(run) => {
                    for (o, xs) in out.chunks_exact_mut(mr * kg).zip(run.chunks(kg)) {
                        for (e, &x) in xs.iter().enumerate() {
                            o[i * kg + e] = F::enc_a(x, p);
                        }
                    }
                }
                None => {
                    for kk in 0..kc {
                        out[(kk / kg) * mr * kg + i * kg + kk % kg] = F::enc_a(src.get(r, c0 + kk), p);
                    }
                }
            }
        }
    }
}

/// [`pack_a`] for k-tiled families ([`Family::KT`]): each row's k values go in runs of `KT`,
/// one per block, so a row is copied, not scattered.
fn pack_a_ktiled<F: Family, S: MatSrc>(
    src: &S,
    p: i32,
    r0: usize,
    rows: usize,
    c0: usize,
    kc: usize,
    dst: &mut [F::PA],
) {
    let (mr, kt) = (F::MR, F::KT);
    let panel = k_padded::<F>(kc) * mr;
    if panel == 0 {
        return;
    }
    let mut gathered: Vec<S::T> = Vec::new();
    for (pi, out) in dst.chunks_exact_mut(panel).enumerate() {
        let i0 = pi * mr;
        let h = mr.min(rows - i0);
        if h < mr || !kc.is_multiple_of(kt) {
            out.fill(F::PA::default());
        }
        for i in 0..h {
            let run = match src.row_run(r0 + i0 + i, c0, kc) {
                Some(run) => run,
                None => {
                    gathered.resize(kc, S::T::default());
                    src.row_into(r0 + i0 + i, c0, &mut gathered);
                    &gathered
                }
            };
            for (blk, xs) in run.chunks(kt).enumerate() {
                let o = &mut out[blk * mr * kt + i * kt..][..xs.len()];
                for (d, &x) in o.iter_mut().zip(xs) {
                    *d = F::enc_a(x, p);
                }
            }
        }
    }
}

/// Packs one full `MR`-row panel (`kc` a multiple of KG) from contiguous rows, group-outer
/// so the panel is written sequentially; false when a row is not contiguous.
fn pack_a_rows<F: Family, S: MatSrc>(src: &S, p: i32, r0: usize, c0: usize, kc: usize, out: &mut [F::PA]) -> bool {
    let mut rows: [&[S::T]; 16] = [&[]; 16];
    for (i, row) in rows.iter_mut().enumerate().take(F::MR) {
        match src.row_run(r0 + i, c0, kc) {
            Some(run) => *row = run,
            None => return false,
        }
    }
    let kg = F::KG;
    // Blocks of BK k values (BK / KG groups): each row's run is read once, as one short
    // contiguous copy, instead of MR interleaved streams whose rows may share L1 sets.
    const BK: usize = 16;
    let (mr, full) = (F::MR, kc / BK * BK);
    let mut blk = [[S::T::default(); BK]; 16];
    for (b, o) in out[..full * mr].chunks_exact_mut(BK * mr).enumerate() {
        for i in 0..mr {
            blk[i].copy_from_slice(&rows[i][b * BK..b * BK + BK]);
        }
        for (g, og) in o.chunks_exact_mut(mr * kg).enumerate() {
            for i in 0..mr {
                for e in 0..kg {
                    og[i * kg + e] = F::enc_a(blk[i][g * kg + e], p);
                }
            }
        }
    }
    for (g, o) in out[full * mr..].chunks_exact_mut(mr * kg).enumerate() {
        let k0 = full + g * kg;
        for i in 0..mr {
            let run = &rows[i][k0..k0 + kg];
            for e in 0..kg {
                o[i * kg + e] = F::enc_a(run[e], p);
            }
        }
    }
    true
}

/// Packs one full `NR`-column panel of KG-row groups (`kc` a multiple of KG) from
/// contiguous rows: each group interleaves KG rows column by column.
fn pack_b_groups<F: Family, S: MatSrc>(src: &S, p: i32, r0: usize, kc: usize, j0: usize, out: &mut [F::PB]) -> bool {
    let (nr, kg) = (F::NR, F::KG);
    for (g, o) in out.chunks_exact_mut(nr * kg).take(kc / kg).enumerate() {
        let mut rows: [&[S::T]; 4] = [&[]; 4];
        for (e, row) in rows.iter_mut().enumerate().take(kg) {
            match src.row_run(r0 + g * kg + e, j0, nr) {
                Some(run) => *row = run,
                None => return false,
            }
        }
        for j in 0..nr {
            for e in 0..kg {
                o[j * kg + e] = F::enc_b(rows[e][j], p);
            }
        }
    }
    true
}

/// [`pack_b_panels`] for byte operands in k quads (the VNNI and AMX int8 families) from
/// contiguous rows: four whole rows at a time, interleaved into every panel's group, so B is
/// read row by row. Panel by panel, it was read down 32-byte column strips, each row a new
/// cache line the prefetchers did not fetch ahead (16 % of an int8 2048³ product on AMX).
/// False, with nothing promised about `out`, where it does not apply (rows not contiguous,
/// k not whole quads, another encoding than a top-bit flip).
#[allow(clippy::too_many_arguments)]
fn pack_b_quads<F: Family, S: MatSrc>(
    src: &S,
    p: i32,
    r0: usize,
    kc: usize,
    j0: usize,
    cols: usize,
    panel_len: usize,
    out: &mut [F::PB],
) -> bool {
    let nr = F::NR;
    if std::mem::size_of::<S::T>() != 1 || std::mem::size_of::<F::PB>() != 1 || !kc.is_multiple_of(4) || nr % 16 != 0 {
        return false;
    }
    // Byte encodings add 0 or 128 (an unsigned side's shift) modulo 256: a flip of the top bit.
    let flip = bytemuck::cast_slice::<F::PB, u8>(&[F::enc_b(S::T::default(), p)])[0];
    if flip != 0 && flip != 128 {
        return false;
    }
    let (full, count) = (cols / nr, out.len() / panel_len);
    // What the groups do not write: the k padding of every panel, all of a partial one.
    for (q, panel) in out.chunks_exact_mut(panel_len).enumerate() {
        panel[if q < full { kc * nr } else { 0 }..].fill(F::PB::default());
    }
    let out: &mut [u8] = bytemuck::cast_slice_mut(out);
    for g in 0..kc / 4 {
        let mut rows: [&[u8]; 4] = [&[]; 4];
        for (e, row) in rows.iter_mut().enumerate() {
            match src.row_run(r0 + 4 * g + e, j0, cols) {
                Some(run) => *row = bytemuck::cast_slice(run),
                None => return false,
            }
        }
        for q in 0..count {
            let dst = &mut out[q * panel_len + g * 4 * nr..][..4 * nr];
            let (c0, w) = (q * nr, nr.min(cols - q * nr));
            if w == nr {
                for (c, quad) in dst.as_chunks_mut::<64>().0.iter_mut().enumerate() {
                    let row = |e: usize| rows[e][c0 + 16 * c..].first_chunk::<16>().unwrap_or_else(|| unreachable!());
                    interleave4([row(0), row(1), row(2), row(3)], flip, quad);
                }
            } else {
                for j in 0..w {
                    for (e, row) in rows.iter().enumerate() {
                        dst[4 * j + e] = row[c0 + j] ^ flip;
                    }
                }
            }
        }
    }
    true
}

/// `out[4j + e] = rows[e][j] ^ flip` for `j < 16`.
#[cfg(target_arch = "x86_64")]
use super::arch::x86_64::interleave4;

/// `out[4j + e] = rows[e][j] ^ flip` for `j < 16`.
#[cfg(not(target_arch = "x86_64"))]
fn interleave4(rows: [&[u8; 16]; 4], flip: u8, out: &mut [u8; 64]) {
    for j in 0..16 {
        for e in 0..4 {
            out[4 * j + e] = rows[e][j] ^ flip;
        }
    }
}

/// Packs consecutive `NR`-column panels of `panel_len` elements each (`out` holds whole
/// panels): source rows `rows` (the k block), columns from `j0` up to `n`. For families that
/// take single k values, each source row is read once across all the panels' columns (a
/// contiguous run in place, else gathered into a row buffer: one [`MatSrc::row_into`] per row
/// instead of one per row and panel) and its `NR`-wide pieces go to their panels. Read panel by panel
/// instead, a plain matrix is walked down a column strip, one row stride per step, and the
/// hardware prefetcher gives up at every page (Zen 3, 512³: packing took 8 % of the product);
/// a convolution's patches paid a gather call per 16 pixels.
pub(crate) fn pack_b_panels<F: Family, S: MatSrc>(
    src: &S,
    p: i32,
    rows: std::ops::Range<usize>,
    j0: usize,
    n: usize,
    panel_len: usize,
    out: &mut [F::PB],
) {
    let (nr, r0, kc) = (F::NR, rows.start, rows.len());
    if panel_len == 0 {
        return; // k = 0: empty panels
    }
    let count = out.len() / panel_len;
    let cols = (count * nr).min(n - j0);
    if F::KG == 4 && cols > 0 && pack_b_quads::<F, S>(src, p, r0, kc, j0, cols, panel_len, out) {
        return;
    }
    if F::KG != 1 || kc == 0 || cols == 0 {
        for (q, panel) in out.chunks_exact_mut(panel_len).enumerate() {
            let jq = j0 + q * nr;
            pack_b_panel::<F, S>(src, p, r0, kc, jq, nr.min(n - jq), panel);
        }
        return;
    }
    if !cols.is_multiple_of(nr) {
        out[(count - 1) * panel_len..].fill(F::PB::default());
    }
    // f32 into an f32 family encodes as itself: whole pieces are copied (vector moves; the
    // generic per-element encoding compiled to scalar moves, 27 % of a 64 × 3136 × 576 product).
    let plain = is::<S::T, f32>() && is::<F::PB, f32>();
    let mut gathered: Vec<S::T> = Vec::new();
    for kk in 0..kc {
        let run = match src.row_run(r0 + kk, j0, cols) {
            Some(run) => run,
            None => {
                gathered.resize(cols, S::T::default());
                src.row_into(r0 + kk, j0, &mut gathered);
                &gathered
            }
        };
        for (q, piece) in run.chunks(nr).enumerate() {
            let dst = &mut out[q * panel_len + kk * nr..][..piece.len()];
            if plain {
                dst.copy_from_slice(bytemuck::cast_slice(piece));
            } else if piece.len() == 16 {
                // A fixed length lets the compiler unroll the conversion.
                for e in 0..16 {
                    dst[e] = F::enc_b(piece[e], p);
                }
            } else {
                for (d, &x) in dst.iter_mut().zip(piece) {
                    *d = F::enc_b(x, p);
                }
            }
        }
    }
}

/// Packs one `NR`-column panel: rows `r0..r0 + kc`, columns `j0..j0 + w` (`w ≤ NR`).
pub(crate) fn pack_b_panel<F: Family, S: MatSrc>(
    src: &S,
    p: i32,
    r0: usize,
    kc: usize,
    j0: usize,
    w: usize,
    out: &mut [F::PB],
) {
    let (nr, kg) = (F::NR, F::KG);
    if w < nr || kc != k_padded::<F>(kc) {
        out.fill(F::PB::default());
    }
    let at = |kk: usize, j: usize| (kk / kg) * nr * kg + j * kg + kk % kg;
    let groups = kg > 1 && kg <= 4 && w == nr && kc.is_multiple_of(kg);
    if groups && pack_b_groups::<F, S>(src, p, r0, kc, j0, out) {
        return;
    }
    if src.row_run(r0, j0, w).is_some() {
        for kk in 0..kc {
            if let Some(run) = src.row_run(r0 + kk, j0, w) {
                run.iter().enumerate().for_each(|(j, &x)| out[at(kk, j)] = F::enc_b(x, p));
            }
        }
    } else if src.col_run(r0, j0, kc).is_some() {
        for j in 0..w {
            if let Some(run) = src.col_run(r0, j0 + j, kc) {
                run.iter().enumerate().for_each(|(kk, &x)| out[at(kk, j)] = F::enc_b(x, p));
            }
        }
    } else {
        const { assert!(F::NR <= 64) };
        let mut row = [S::T::default(); 64];
        let row = &mut row[..w.min(64)];
        for kk in 0..kc {
            src.row_into(r0 + kk, j0, row);
            for (j, &x) in row.iter().enumerate() {
                out[at(kk, j)] = F::enc_b(x, p);
            }
        }
    }
}

/// Adds the per-row sums of a packed A block (`rows` valid rows) into `sums` (VNNI
/// corrections; wrapping).
pub(crate) fn a_sums<F: Family>(packed: &[F::PA], rows: usize, kc: usize, sums: &mut [i32]) {
    let (mr, kg) = (F::MR, F::KG);
    let panel = k_padded::<F>(kc) * mr;
    if panel == 0 {
        return;
    }
    // A k-tiled panel's blocks are rows of KT values: the same sums with KT in place of KG.
    let kg = if F::KT > 0 { F::KT } else { kg };
    for (pi, block) in packed.chunks_exact(panel).enumerate() {
        for group in block.chunks_exact(mr * kg) {
            for (i, lane) in group.chunks_exact(kg).enumerate().take(rows - pi * mr) {
                let s: i32 = lane.iter().map(|&x| F::pa_i32(x)).sum();
                sums[pi * mr + i] = sums[pi * mr + i].wrapping_add(s);
            }
        }
    }
}

/// Adds the per-column sums of one packed B panel (`w` valid columns) into `sums`.
pub(crate) fn b_sums<F: Family>(panel: &[F::PB], w: usize, sums: &mut [i32]) {
    let (nr, kg) = (F::NR, F::KG);
    #[cfg(target_arch = "x86_64")]
    if kg == 4 && size_of::<F::PB>() == 1 && nr % 16 == 0 && nr <= 64 && crate::cpu::isa::features().avx512_vnni {
        // Byte quads: one `vpdpbusd` per 16 columns of a group (5 % of an int8 2048³ product
        // on AMX with the loop below).
        let signed = F::pb_i32(bytemuck::cast_slice::<u8, F::PB>(&[0x80])[0]) < 0;
        // SAFETY: the CPU has AVX-512 VNNI (checked above).
        unsafe { crate::cpu::arch::x86_64::quad_col_sums(bytemuck::cast_slice(panel), nr, signed, w, sums) };
        return;
    }
    // Whole groups into a panel-wide accumulator (a loop the compiler vectorises; per valid
    // column it was 8 % of an int8 1024³ product on AMX), then the valid columns out.
    const { assert!(F::NR <= 64) };
    let mut acc = [0i32; 64];
    let acc = &mut acc[..nr];
    for group in panel.chunks_exact(nr * kg) {
        for (a, lane) in acc.iter_mut().zip(group.chunks_exact(kg)) {
            *a = a.wrapping_add(lane.iter().fold(0i32, |s, &x| s.wrapping_add(F::pb_i32(x))));
        }
    }
    for (s, &a) in sums.iter_mut().zip(acc.iter()).take(w) {
        *s = s.wrapping_add(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::arch::scalar::ScalarF32;
    use crate::cpu::patches::{Geometry, PatchTables, Patches};

    /// `pack_b_panels` over every panel of a block equals `pack_b_panel` panel by panel, edge
    /// columns zeroed over stale contents, for a source with row runs, one without (a
    /// transposed view) and convolution patches (gathered rows, padding).
    fn same_as_panel_by_panel<S: MatSrc<T = f32>>(src: &S, rows: std::ops::Range<usize>, j0: usize, n: usize) {
        let nr = ScalarF32::NR;
        let panels = (n - j0).div_ceil(nr);
        let panel_len = rows.len() * nr;
        let mut want = vec![f32::NAN; panels * panel_len];
        for (q, panel) in want.chunks_exact_mut(panel_len).enumerate() {
            let jq = j0 + q * nr;
            pack_b_panel::<ScalarF32, S>(src, 0, rows.start, rows.len(), jq, nr.min(n - jq), panel);
        }
        let mut got = vec![f32::NAN; panels * panel_len];
        pack_b_panels::<ScalarF32, S>(src, 0, rows.clone(), j0, n, panel_len, &mut got);
        assert_eq!(
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert!(got.iter().all(|x| !x.is_nan()), "stale contents left in the block");
    }

    #[test]
    fn row_by_row_packing_matches_panel_by_panel() {
        let (k, n) = (9, 37);
        let data: Vec<f32> = (0..k * n + 5).map(|v| v as f32 - 20.0).collect();
        let rows = StridedMat { data: &data, base: 5, rs: n, cs: 1 };
        let cols = StridedMat { data: &data, base: 5, rs: 1, cs: k };
        for (r, j0) in [(0..k, 0), (2..7, 16), (3..4, 32)] {
            same_as_panel_by_panel(&rows, r.clone(), j0, n);
            same_as_panel_by_panel(&cols, r, j0, n);
        }
        let g = Geometry {
            channels: 2,
            input: [5, 6],
            kernel: [3, 3],
            output: [3, 6],
            stride: [2, 1],
            dilation: [1, 1],
            pad: [1, 1],
            strides: [30, 6, 1],
        };
        let tables = PatchTables::new(&g);
        let patches = Patches { data: &data, base: 1, tables: &tables, pad: 0.0 };
        same_as_panel_by_panel(&patches, 0..18, 0, 18);
        same_as_panel_by_panel(&patches, 4..11, 16, 18);
    }

    /// The quad path of `pack_b_panels` (byte operands, k in quads) equals `pack_b_panel`
    /// panel by panel: whole and partial panels over stale contents, k padded to AMX tiles,
    /// signed and unsigned bytes with and without the +128 shift, and k off a quad (which
    /// takes the panel-by-panel path).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn byte_quads_pack_like_panel_by_panel() {
        use crate::cpu::arch::x86_64::{amx, avx512};
        fn check<F: Family<PB = u8>, T: Elem>(
            data: &[T],
            k: usize,
            n: usize,
            rows: std::ops::Range<usize>,
            j0: usize,
            p: i32,
        ) {
            let src = StridedMat { data, base: 3, rs: n, cs: 1 };
            let (nr, kc) = (F::NR, rows.len());
            let panels = (n - j0).div_ceil(nr);
            let panel_len = k_padded::<F>(kc) * nr;
            let mut want = vec![0xA5u8; panels * panel_len];
            for (q, panel) in want.chunks_exact_mut(panel_len).enumerate() {
                let jq = j0 + q * nr;
                pack_b_panel::<F, _>(&src, p, rows.start, kc, jq, nr.min(n - jq), panel);
            }
            let mut got = vec![0xA5u8; panels * panel_len];
            pack_b_panels::<F, _>(&src, p, rows.clone(), j0, n, panel_len, &mut got);
            assert_eq!(got, want, "{} k {k} n {n} rows {rows:?} j0 {j0} p {p}", std::any::type_name::<F>());
        }
        let (k, n) = (70, 100);
        let u: Vec<u8> = (0..3 + k * n).map(|v| (v * 37 % 251) as u8).collect();
        let i: Vec<i8> = u.iter().map(|&v| v as i8).collect();
        for (rows, j0) in [(0..64, 0), (4..40, 32), (0..70, 64), (2..8, 0), (1..7, 0)] {
            check::<avx512::U8I8, i8>(&i, k, n, rows.clone(), j0, 0);
            check::<avx512::I8U8, u8>(&u, k, n, rows.clone(), j0, 0);
            check::<avx512::I8U8, i8>(&i, k, n, rows.clone(), j0, 128);
            check::<amx::U8I8, i8>(&i, k, n, rows.clone(), j0, 0);
            check::<amx::I8U8, i8>(&i, k, n, rows, j0, 128);
        }
    }
}
