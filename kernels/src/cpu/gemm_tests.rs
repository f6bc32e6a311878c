//! Int8 families run directly against the definition, so a family the ISA dispatch does not
//! pick on the test machine (AVX2's `vpmaddwd` one on a CPU with VNNI) is still checked.

use super::*;
use crate::cpu::pack::StridedMat;

/// Copies the raw sums out; optionally the in-register plan (no bias, no activation).
struct RawEpi {
    fast: bool,
}

impl<V: Copy + Sync> TileEpi<V, V> for RawEpi {
    fn reads_prev(&self) -> bool {
        false
    }
    fn apply(&self, t: Tile, acc: &mut [V], dst: &mut [V], ld: usize) {
        for (i, row) in acc.chunks_exact(t.cols).take(t.rows).enumerate() {
            dst[i * ld..i * ld + t.cols].copy_from_slice(row);
        }
    }
    fn fast(&self) -> Option<FastPlan<'_, V>> {
        self.fast.then_some(FastPlan {
            alpha: 1.0,
            bias: None,
            axis: ChanAxis::Col,
            row_base: 0,
            act: FastAct::None,
            out: OutKind::Acc,
        })
    }
}

/// Deterministic bytes over the whole range, extremes included.
fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut s = seed;
    (0..len)
        .map(|i| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            match i % 7 {
                0 => 255,
                1 => 0,
                2 => 128,
                _ => (s >> 24) as u8,
            }
        })
        .collect()
}

/// `A (m × k, row stride k + 3) · B (k × n)` with zero points on family `F`, against the
/// definition in wrapping i32; the operands are encoded with the zero points (the portable
/// families' convention).
fn check<F: Family<V = i32>, TA: Elem + bytemuck::Pod, TB: Elem + bytemuck::Pod>(
    isa: Isa,
    shape: (usize, usize, usize),
    za: i32,
    zb: i32,
    fast: bool,
) {
    check_enc::<F, TA, TB>(isa, shape, za, zb, fast, [za, zb]);
}

/// [`check`] with encoding parameters `enc` (a VNNI family's +128 shift of its unsigned side).
fn check_enc<F: Family<V = i32>, TA: Elem + bytemuck::Pod, TB: Elem + bytemuck::Pod>(
    isa: Isa,
    (m, n, k): (usize, usize, usize),
    za: i32,
    zb: i32,
    fast: bool,
    enc: [i32; 2],
) {
    let lda = k + 3;
    let a_raw = bytes(m * lda, 7);
    let b_raw = bytes(k * n, 11);
    let a: &[TA] = bytemuck::cast_slice(&a_raw);
    let b: &[TB] = bytemuck::cast_slice(&b_raw);
    let (am, bm) = (StridedMat { data: a, base: 0, rs: lda, cs: 1 }, StridedMat { data: b, base: 0, rs: n, cs: 1 });
    let p = Product { isa, a: &am, b: &bm, m, n, k, za, zb };
    let mut got = vec![i32::MIN; m * n];
    run::<F, _, _, i32, _>(&p, &mut got, &RawEpi { fast }, enc);
    for i in 0..m {
        for j in 0..n {
            let want = (0..k).fold(0i32, |s, q| {
                let x = a[i * lda + q].to_i32() - za;
                s.wrapping_add(x.wrapping_mul(b[q * n + j].to_i32() - zb))
            });
            assert_eq!(got[i * n + j], want, "{}: ({m}, {n}, {k}) at ({i}, {j})", std::any::type_name::<F>());
        }
    }
}

fn shapes() -> [(usize, usize, usize); 6] {
    // Edges in every dimension, odd k (a half k pair), and k past one k block (1024).
    [(1, 1, 1), (6, 16, 2), (7, 17, 5), (13, 40, 63), (65, 70, 129), (9, 33, 1500)]
}

#[test]
fn scalar_int8_family_matches_the_definition() {
    for shape in shapes() {
        check::<scalar::ScalarI32, u8, i8>(Isa::Scalar, shape, 3, -5, false);
        check::<scalar::ScalarI32, i8, i8>(Isa::Scalar, shape, -128, 127, true);
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_madd_family_matches_the_definition() {
    use crate::cpu::arch::x86_64::avx2::Madd16;
    if !isa::features().supports(Isa::Avx2) {
        eprintln!("skipped: this CPU has no AVX2");
        return;
    }
    for shape in shapes() {
        for fast in [false, true] {
            check::<Madd16, u8, i8>(Isa::Avx2, shape, 0, 0, fast);
            check::<Madd16, u8, i8>(Isa::Avx2, shape, 255, -128, fast);
            check::<Madd16, i8, i8>(Isa::Avx2, shape, -128, 127, fast);
            check::<Madd16, i8, u8>(Isa::Avx2, shape, 5, 200, fast);
        }
    }
}

/// Shapes for the AMX families (32 × 32 tiles; k tiles of 32 bf16 or 64 bytes): edges in m
/// and n on both sides of a tile, k below one tile, off a tile multiple, and past one k
/// block (several passes).
#[cfg(target_arch = "x86_64")]
const AMX_SHAPES: [(usize, usize, usize); 8] =
    [(1, 1, 1), (32, 32, 64), (31, 33, 33), (33, 31, 100), (65, 70, 129), (7, 100, 1500), (96, 40, 2300), (40, 9, 7)];

#[cfg(target_arch = "x86_64")]
#[test]
fn amx_int8_families_match_the_definition() {
    use crate::cpu::arch::x86_64::amx::{I8U8, U8I8};
    if !isa::features().supports(Isa::Amx) {
        eprintln!("skipped: this CPU has no AMX (or the OS did not grant its tile state)");
        return;
    }
    for shape in AMX_SHAPES {
        for fast in [false, true] {
            check_enc::<U8I8, u8, i8>(Isa::Amx, shape, 0, 0, fast, [0, 0]);
            check_enc::<U8I8, u8, i8>(Isa::Amx, shape, 255, -128, fast, [0, 0]);
            check_enc::<U8I8, i8, i8>(Isa::Amx, shape, -128, 127, fast, [128, 0]);
            check_enc::<I8U8, i8, u8>(Isa::Amx, shape, 5, 200, fast, [0, 0]);
            check_enc::<I8U8, i8, i8>(Isa::Amx, shape, 3, -7, fast, [0, 128]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn amx_bf16_family_matches_the_definition() {
    use crate::cpu::arch::x86_64::amx::Bf16;
    use half::bf16;
    if !isa::features().supports(Isa::Amx) {
        eprintln!("skipped: this CPU has no AMX (or the OS did not grant its tile state)");
        return;
    }
    for (m, n, k) in AMX_SHAPES {
        // Small integers: exact in bf16 and in every f32 partial sum.
        let (a, b) = (ints(m * k, 1), ints(k * n, 2));
        let (ah, bh): (Vec<bf16>, Vec<bf16>) =
            (a.iter().map(|&x| bf16::from_f32(x)).collect(), b.iter().map(|&x| bf16::from_f32(x)).collect());
        let (am, bm) =
            (StridedMat { data: &ah[..], base: 0, rs: k, cs: 1 }, StridedMat { data: &bh[..], base: 0, rs: n, cs: 1 });
        let p = Product { isa: Isa::Amx, a: &am, b: &bm, m, n, k, za: 0, zb: 0 };
        for fast in [false, true] {
            let mut got = vec![f32::NAN; m * n];
            run::<Bf16, _, _, f32, _>(&p, &mut got, &RawEpi { fast }, [0, 0]);
            for i in 0..m {
                for j in 0..n {
                    let want: f32 = (0..k).map(|q| a[i * k + q] * b[q * n + j]).sum();
                    assert_eq!(got[i * n + j], want, "AMX bf16: ({m}, {n}, {k}) at ({i}, {j})");
                }
            }
        }
    }
}

#[test]
fn row_offsets_count_the_distinct_strides_modulo_4k() {
    assert_eq!(row_offsets_mod_4k(4096), 1);
    assert_eq!(row_offsets_mod_4k(8192), 1);
    assert_eq!(row_offsets_mod_4k(1024), 4);
    assert_eq!(row_offsets_mod_4k(768), 16);
    assert_eq!(row_offsets_mod_4k(1536), 8);
    assert_eq!(row_offsets_mod_4k(1028), 1024);
    assert_eq!(row_offsets_mod_4k(4), 1024);
}

#[test]
#[cfg(target_arch = "x86_64")]
fn avx2_reads_b_in_place_only_at_whole_cache_line_strides() {
    use crate::cpu::arch::x86_64::avx2::F32;
    let in_place = |n: usize, k: usize| {
        let (a, b) = (vec![0f32; 64 * k], vec![0f32; k * n]);
        let (am, bm) =
            (StridedMat { data: &a[..], base: 0, rs: k, cs: 1 }, StridedMat { data: &b[..], base: 0, rs: n, cs: 1 });
        let p = Product { isa: Isa::Avx2, a: &am, b: &bm, m: 64, n, k, za: 0, zb: 0 };
        InPlaceB::<F32>::large(&p).is_some()
    };
    assert!(in_place(96, 96), "384-byte rows, 32 offsets modulo 4 KiB");
    assert!(in_place(192, 192), "768-byte rows, 16 offsets");
    assert!(!in_place(49, 512), "196-byte rows (a 7×7 plane) straddle cache lines");
    assert!(!in_place(196, 256), "784-byte rows (a 14×14 plane)");
    assert!(!in_place(256, 256), "1 KiB rows: 4 offsets crowd the L1 sets");
    assert!(!in_place(512, 512), "1 MiB of B does not fit L2");
}

#[test]
fn threads_split_columns_when_every_task_reads_a_in_place() {
    let split = |a_shared: bool| -> Vec<(usize, usize, usize, usize)> {
        plan::<scalar::ScalarF32>(256, 256, 2, a_shared).iter().map(|t| (t.r0, t.rows, t.c0, t.cols)).collect()
    };
    let cols = split(true);
    assert_eq!(cols.len(), 2);
    assert!(cols.iter().all(|&(r0, rows, _, _)| r0 == 0 && rows == 256), "{cols:?}");
    assert_eq!(cols.iter().map(|t| t.3).sum::<usize>(), 256);
    let rows = split(false);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|&(_, _, c0, cols)| c0 == 0 && cols == 256), "{rows:?}");
    // One thread: one task either way.
    assert_eq!(plan::<scalar::ScalarF32>(256, 256, 1, true).len(), 1);
    // Uneven column ranges (F32's 64-column panels: 128 and 68 of 196) split rows instead.
    #[cfg(target_arch = "x86_64")]
    {
        let uneven = plan::<crate::cpu::arch::x86_64::avx512::F32>(256, 196, 2, true);
        assert!(
            uneven.iter().all(|t| t.c0 == 0 && t.cols == 196),
            "{:?}",
            uneven.iter().map(|t| (t.r0, t.rows)).collect::<Vec<_>>()
        );
        assert_eq!(uneven.iter().map(|t| t.rows).sum::<usize>(), 256);
    }
}

/// Small integers: every f32 product and sum below is exact, so any summation order agrees.
fn ints(len: usize, seed: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 7 + seed * 13) % 9) as f32 - 4.0).collect()
}

/// `A (m × k) · B (k × n)` of exact small integers on f32 family `F`, against the definition.
fn check_f32<F: Family<V = f32, PA = f32, PB = f32>>(isa: Isa, (m, n, k): (usize, usize, usize)) {
    let (a, b) = (ints(m * k, 1), ints(k * n, 2));
    let (am, bm) =
        (StridedMat { data: &a[..], base: 0, rs: k, cs: 1 }, StridedMat { data: &b[..], base: 0, rs: n, cs: 1 });
    let p = Product { isa, a: &am, b: &bm, m, n, k, za: 0, zb: 0 };
    let mut got = vec![f32::NAN; m * n];
    run::<F, _, _, f32, _>(&p, &mut got, &RawEpi { fast: false }, [0, 0]);
    for i in 0..m {
        for j in 0..n {
            let want: f32 = (0..k).map(|q| a[i * k + q] * b[q * n + j]).sum();
            assert_eq!(got[i * n + j], want, "{}: ({m}, {n}, {k}) at ({i}, {j})", std::any::type_name::<F>());
        }
    }
}

#[test]
fn f32_families_pack_wide_and_deep_products_per_task() {
    // Wide products whose tasks split columns and pack their own B blocks (7 × 300,
    // 3 × 1000); k past one block (1100, 2100); edge panels of 12, 6 and 13 columns;
    // row-split tasks sharing one packed B (13 × 77 on two threads); a square product whose
    // 280-byte B rows are packed on AVX2 and one whose 384-byte rows are read in place; a
    // small product read in place with the half-width AVX2 edge tile (40 = 2·16 + 8); edge
    // tiles of 1–4 columns on AVX2's dot-product tile: a 7×7 plane (49 = 3·16 + 1, B packed),
    // k past one block with a 4-column edge, small ones with B in place, and k below 8.
    let shapes = [
        (7, 300, 1100),
        (3, 1000, 70),
        (13, 77, 2100),
        (70, 70, 70),
        (96, 96, 96),
        (50, 40, 60),
        (70, 49, 300),
        (13, 36, 1100),
        (20, 33, 50),
        (9, 50, 7),
        (4, 3, 263),
    ];
    for shape in shapes {
        check_f32::<scalar::ScalarF32>(Isa::Scalar, shape);
        #[cfg(target_arch = "x86_64")]
        if isa::features().supports(Isa::Avx2) {
            check_f32::<crate::cpu::arch::x86_64::avx2::F32>(Isa::Avx2, shape);
        }
        #[cfg(target_arch = "x86_64")]
        if isa::features().supports(Isa::Avx512) {
            check_f32::<crate::cpu::arch::x86_64::avx512::F32>(Isa::Avx512, shape);
        }
    }
}

/// The in-register epilogue with a column bias: `acc + bias[j]`.
struct ColBias<'a> {
    bias: &'a [f32],
}

impl TileEpi<f32, f32> for ColBias<'_> {
    fn reads_prev(&self) -> bool {
        false
    }
    fn apply(&self, t: Tile, acc: &mut [f32], dst: &mut [f32], ld: usize) {
        for (i, row) in acc.chunks_exact(t.cols).take(t.rows).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                dst[i * ld + j] = v + self.bias[t.c0 + j];
            }
        }
    }
    fn fast(&self) -> Option<FastPlan<'_, f32>> {
        Some(FastPlan {
            alpha: 1.0,
            bias: Some(self.bias),
            axis: ChanAxis::Col,
            row_base: 0,
            act: FastAct::None,
            out: OutKind::Acc,
        })
    }
}

#[test]
#[cfg(target_arch = "x86_64")]
fn avx512_f32_edge_columns_as_dot_products_match_the_definition() {
    use crate::cpu::arch::x86_64::avx512::F32;
    if !isa::features().supports(Isa::Avx512) {
        eprintln!("skipped: this CPU has no AVX-512");
        return;
    }
    // Last vectors of 1–4 columns (49, 50, 35, 4, 196 = 3·64 + 4), with A read in place: k
    // below one 16-step, off a multiple of 16, and past one k block (partial sums carried);
    // a small product with both operands in place; a bias shifted with the edge's columns;
    // rows split on two threads, one B panel packed as k ranges by both (70 × 49 × 700).
    for (m, n, k) in [(13, 49, 5), (70, 49, 700), (9, 50, 37), (20, 35, 50), (8, 4, 1100), (30, 196, 2100)] {
        let (a, b) = (ints(m * k, 3), ints(k * n, 4));
        let bias: Vec<f32> = (0..n).map(|j| j as f32).collect();
        let am = StridedMat { data: &a[..], base: 0, rs: k, cs: 1 };
        // B row-major (read in place where it fits L2) and column-major (always packed).
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let layouts =
            [StridedMat { data: &b[..], base: 0, rs: n, cs: 1 }, StridedMat { data: &bt[..], base: 0, rs: 1, cs: k }];
        for bm in &layouts {
            let p = Product { isa: Isa::Avx512, a: &am, b: bm, m, n, k, za: 0, zb: 0 };
            let mut got = vec![f32::NAN; m * n];
            run::<F32, _, _, f32, _>(&p, &mut got, &ColBias { bias: &bias }, [0, 0]);
            for i in 0..m {
                for j in 0..n {
                    let want: f32 = (0..k).map(|q| a[i * k + q] * b[q * n + j]).sum::<f32>() + bias[j];
                    assert_eq!(got[i * n + j], want, "({m}, {n}, {k}) B strides {:?} at ({i}, {j})", (bm.rs, bm.cs));
                }
            }
        }
    }
}
