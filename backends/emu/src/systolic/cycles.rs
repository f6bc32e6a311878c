//! SCALE-Sim's closed-form compute model (emulation.md §1.1, read from scale-sim-v2
//! `systolic_compute_{os,ws,is}.py`) and a first-order DRAM traffic model.
//!
//! For an `R × C` array and one GEMM in SCALE-Sim's convention (`Npx × Win` ifmap,
//! `Win × F` filter):
//!
//! | dataflow | spatial rows `Sr` | spatial cols `Sc` | temporal `T` | cycles per fold |
//! |---|---|---|---|---|
//! | OS | Npx | F | Win | `T + R + C − 2` |
//! | WS | Win | F | Npx | `2R + C + T − 2` |
//! | IS | Win | Npx | F | `2R + C + T − 2` |
//!
//! `folds = ⌈Sr/R⌉·⌈Sc/C⌉`; compute cycles = `folds × per_fold` (SCALE-Sim prints one
//! less: [`Folds::scalesim_reported_cycles`]). Mapping efficiency is the mean fraction of PEs
//! a fold uses, `Sr·Sc / (folds·R·C)`; compute utilization weighs it by `T / L`, with
//! `L = per_fold` for OS and `per_fold + C − 1` for WS/IS (SCALE-Sim's own definition).

use super::config::Dataflow;
use crate::model::div_ceil;

/// The fold structure and SRAM access counts of one GEMM on one array (counts in words).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Folds {
    /// Spatial rows `Sr`.
    pub sr: u64,
    /// Spatial columns `Sc`.
    pub sc: u64,
    /// Temporal extent `T`.
    pub t: u64,
    /// `⌈Sr/R⌉`.
    pub row_folds: u64,
    /// `⌈Sc/C⌉`.
    pub col_folds: u64,
    /// Cycles of one fold (fill, stream, drain).
    pub per_fold: u64,
    /// Mean fraction of PEs mapped, 0..=1.
    pub mapping_efficiency: f64,
    /// Mean fraction of PE-cycles computing, 0..=1.
    pub compute_utilization: f64,
    /// ifmap SRAM reads.
    pub ifmap_reads: u64,
    /// filter SRAM reads.
    pub filter_reads: u64,
    /// ofmap SRAM writes.
    pub ofmap_writes: u64,
}

impl Folds {
    /// SCALE-Sim's closed form for a `rows × cols` array and the GEMM `npx × win × f`.
    pub fn new(dataflow: Dataflow, rows: u64, cols: u64, npx: u64, win: u64, f: u64) -> Folds {
        let (r, c) = (rows, cols);
        let (sr, sc, t) = match dataflow {
            Dataflow::Os => (npx, f, win),
            Dataflow::Ws => (win, f, npx),
            Dataflow::Is => (win, npx, f),
        };
        let (row_folds, col_folds) = (div_ceil(sr, r), div_ceil(sc, c));
        let folds = row_folds.saturating_mul(col_folds);
        let per_fold = match dataflow {
            Dataflow::Os => t.saturating_add(r + c - 2),
            Dataflow::Ws | Dataflow::Is => t.saturating_add(2 * r + c - 2),
        };
        let util_len = match dataflow {
            Dataflow::Os => per_fold,
            Dataflow::Ws | Dataflow::Is => per_fold.saturating_add(c - 1),
        };
        let mapping_efficiency = if folds == 0 { 0.0 } else { sr as f64 * sc as f64 / (folds as f64 * (r * c) as f64) };
        let compute_utilization = mapping_efficiency * t as f64 / util_len as f64;
        let (ifmap_reads, filter_reads, ofmap_writes) = match dataflow {
            Dataflow::Os => (
                mul3(col_folds, npx, win),
                mul3(row_folds, win, f),
                mul3(1, npx, f).saturating_add(mul3(folds, r + c, 1)),
            ),
            Dataflow::Ws => (mul3(col_folds, npx, win), mul3(1, win, f), mul3(row_folds, npx, f)),
            Dataflow::Is => (mul3(1, npx, win), mul3(col_folds, win, f), mul3(row_folds, npx, f)),
        };
        Folds {
            sr,
            sc,
            t,
            row_folds,
            col_folds,
            per_fold,
            mapping_efficiency,
            compute_utilization,
            ifmap_reads,
            filter_reads,
            ofmap_writes,
        }
    }

    /// Folds in all.
    pub fn folds(&self) -> u64 {
        self.row_folds.saturating_mul(self.col_folds)
    }

    /// Stall-free compute cycles: `folds × per_fold`.
    pub fn compute_cycles(&self) -> u64 {
        self.folds().saturating_mul(self.per_fold)
    }

    /// The compute cycles SCALE-Sim prints (`total − stall`, one less than
    /// [`compute_cycles`](Folds::compute_cycles) because its last served cycle is not counted).
    pub fn scalesim_reported_cycles(&self) -> u64 {
        self.compute_cycles().saturating_sub(1)
    }
}

/// `a·b·c`, saturating (shape-only costing accepts any sizes and must not overflow).
fn mul3(a: u64, b: u64, c: u64) -> u64 {
    a.saturating_mul(b).saturating_mul(c)
}

/// DRAM bytes of one GEMM under a double-buffered scratchpad model (Tier A of emulation.md
/// §6.4): an operand that fits in half its scratchpad is fetched once; otherwise it is
/// re-fetched each time the loop nest revisits it (once per column fold for a streamed
/// ifmap, once per row or column fold for a streamed filter). Partial sums that do not fit in
/// half the ofmap scratchpad either spill to DRAM or force the temporal dimension into
/// chunks that re-fetch the filter, whichever moves fewer bytes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Traffic {
    /// ifmap bytes read from DRAM.
    pub ifmap: u64,
    /// filter bytes read from DRAM.
    pub filter: u64,
    /// ofmap (and spilled psum) bytes written to and read from DRAM.
    pub ofmap: u64,
}

impl Traffic {
    /// Sum over operands.
    pub fn total(&self) -> u64 {
        self.ifmap.saturating_add(self.filter).saturating_add(self.ofmap)
    }
}

/// Inputs of [`traffic`]: the fold structure, the operand sizes in bytes and the elements'
/// byte widths.
pub(crate) struct TrafficInput {
    pub(crate) dataflow: Dataflow,
    pub(crate) cols: u64,
    pub(crate) folds: Folds,
    /// ifmap, filter, ofmap operand bytes.
    pub(crate) bytes: [u64; 3],
    /// Bytes of one accumulator (psum) element.
    pub(crate) acc_bytes: u64,
    /// ifmap, filter, ofmap scratchpad bytes.
    pub(crate) sram: [u64; 3],
    /// Output rows (`Npx`) and columns (`F`).
    pub(crate) npx: u64,
    pub(crate) f: u64,
}

pub(crate) fn traffic(x: &TrafficInput) -> Traffic {
    let fits = |i: usize| x.bytes[i] <= x.sram[i] / 2;
    let f = &x.folds;
    let (ifmap_passes, filter_passes) = match x.dataflow {
        Dataflow::Ws => (if fits(0) { 1 } else { f.col_folds }, 1),
        Dataflow::Os => (if fits(0) { 1 } else { f.col_folds }, if fits(1) { 1 } else { f.row_folds }),
        Dataflow::Is => (1, if fits(1) { 1 } else { f.col_folds }),
    };
    // Psums of one column strip: Npx × C for WS, C pixels × F for IS; OS keeps them in the PEs.
    let strip = match x.dataflow {
        Dataflow::Ws => mul3(x.npx, x.cols.min(x.f), x.acc_bytes),
        Dataflow::Is => mul3(x.cols.min(x.npx), x.f, x.acc_bytes),
        Dataflow::Os => 0,
    };
    let spills = f.row_folds > 1 && strip > x.sram[2] / 2;
    let ifmap = x.bytes[0].saturating_mul(ifmap_passes);
    let filter = x.bytes[1].saturating_mul(filter_passes);
    if !spills {
        return Traffic { ifmap, filter, ofmap: x.bytes[2] };
    }
    // Partial sums overflow the accumulators. Either spill them (written every row fold, read
    // back before every fold but the first; the final write is in the output dtype), or cut
    // the temporal dimension into chunks whose psums fit and fetch the filter once per chunk
    // (unless it stays on chip): take the cheaper.
    let psum_bytes = x.npx.saturating_mul(x.f).saturating_mul(x.acc_bytes);
    let spill = Traffic {
        ifmap,
        filter,
        ofmap: psum_bytes.saturating_mul(f.row_folds.saturating_mul(2) - 2).saturating_add(x.bytes[2]),
    };
    let chunks = strip.div_ceil((x.sram[2] / 2).max(1));
    let refetch = if fits(1) { 1 } else { chunks };
    let chunked = Traffic { ifmap, filter: filter.saturating_mul(refetch), ofmap: x.bytes[2] };
    if chunked.total() <= spill.total() { chunked } else { spill }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SCALE-Sim's AlexNet conv1 (224×224×3, 11×11×96, stride 4) on a 32×32 WS array:
    /// Npx = 55² = 3025, Win = 363, F = 96 (emulation.md §1.1; issue 5 acceptance).
    #[test]
    fn alexnet_conv1_ws_32x32_matches_scalesim() {
        let f = Folds::new(Dataflow::Ws, 32, 32, 3025, 363, 96);
        assert_eq!((f.row_folds, f.col_folds, f.per_fold), (12, 3, 3119));
        assert_eq!(f.scalesim_reported_cycles(), 112_283);
        assert!((f.mapping_efficiency * 100.0 - 94.53125).abs() < 1e-9);
        assert!((f.compute_utilization * 100.0 - 90.780).abs() < 5e-4, "{}", f.compute_utilization * 100.0);
        assert_eq!((f.ifmap_reads, f.filter_reads, f.ofmap_writes), (3_294_225, 34_848, 3_484_800));
    }

    #[test]
    fn per_fold_cycles_follow_the_dataflow() {
        // One fold each: OS streams the reduction (T = Win), WS/IS load R rows first.
        assert_eq!(Folds::new(Dataflow::Os, 4, 4, 4, 10, 4).compute_cycles(), 10 + 4 + 4 - 2);
        assert_eq!(Folds::new(Dataflow::Ws, 4, 4, 10, 4, 4).compute_cycles(), 8 + 4 + 10 - 2);
        assert_eq!(Folds::new(Dataflow::Is, 4, 4, 4, 4, 10).compute_cycles(), 8 + 4 + 10 - 2);
        // A full, exact mapping wastes nothing spatially.
        assert_eq!(Folds::new(Dataflow::Ws, 4, 4, 9, 8, 8).mapping_efficiency, 1.0);
    }

    #[test]
    fn os_writes_carry_scalesims_per_fold_quirk() {
        let f = Folds::new(Dataflow::Os, 8, 8, 20, 5, 12);
        assert_eq!(f.folds(), 3 * 2);
        assert_eq!(f.ofmap_writes, 20 * 12 + 6 * 16);
        assert_eq!(f.filter_reads, 3 * 5 * 12);
    }
}
