//! Reduction conformance: sum, max, min and mean over axes for every dtype, and softmax /
//! log-softmax for the float dtypes, on every device.
//!
//! Integer inputs span their whole range (integer sums wrap into i32 exactly by contract;
//! integer means are f32). Max/min are compared exactly, skip cases whose reduced extent is
//! empty (core rejects those), and see NaN in the `specials` case (NaN propagates).

use crate::spec;
use accel::ops::{self, ReduceOp};
use accel::{DType, Device, OpKind};
use accel_tests::ViewStep::{Broadcast, Transpose};
use accel_tests::{CheckError, Domain, FLOAT_DTYPES, In, Rng, Suite, Tolerance, check_against_reference, slice};

struct RCase {
    name: &'static str,
    x: In,
    axes: &'static [usize],
    keepdim: bool,
    special: bool,
    out: Option<In>,
}

const fn r(name: &'static str, x: In, axes: &'static [usize]) -> RCase {
    RCase { name, x, axes, keepdim: false, special: false, out: None }
}

const REDUCE: &[RCase] = &[
    r("all_axes_7x13", In::c(&[7, 13]), &[]),
    r("axis1_7x13", In::c(&[7, 13]), &[1]),
    r("axis0_7x13", In::c(&[7, 13]), &[0]),
    r("last_long_3x5x700", In::c(&[3, 5, 700]), &[2]),
    r("first_tall_513x3", In::c(&[513, 3]), &[0]),
    r("two_axes_nonadjacent_2x3x4x5", In::c(&[2, 3, 4, 5]), &[0, 2]),
    RCase { keepdim: true, ..r("middle_keepdim_4x6x5", In::c(&[4, 6, 5]), &[1]) },
    RCase { keepdim: true, ..r("all_keepdim_3x4", In::c(&[3, 4]), &[0, 1]) },
    r("transposed_input_7x13", In::v(&[13, 7], &[Transpose(0, 1)]), &[1]),
    r("sliced_input_8x10", In::v(&[8, 30], &[slice(1, 0, 30, 3)]), &[1]),
    r("broadcast_input_6x9", In::v(&[1, 9], &[Broadcast(&[6, 9])]), &[0]),
    r("empty_reduced_4x0", In::c(&[4, 0]), &[1]),
    r("empty_kept_0x5", In::c(&[0, 5]), &[1]),
    r("rank0", In::c(&[]), &[]),
    RCase { out: Some(In::v(&[12], &[slice(0, 0, 12, 2)])), ..r("into_strided_6x10", In::c(&[6, 10]), &[1]) },
    RCase {
        keepdim: true,
        out: Some(In::v(&[5, 3], &[slice(1, 1, 2, 1)])),
        ..r("into_keepdim_strided_5x7", In::c(&[5, 7]), &[1])
    },
    RCase { special: true, ..r("specials_8x16", In::c(&[8, 16]), &[1]) },
    r("large_rows_1024x1024", In::c(&[1024, 1024]), &[1]),
    r("large_all_1024x1024", In::c(&[1024, 1024]), &[]),
];

struct SCase {
    name: &'static str,
    x: In,
    axis: usize,
    domain: Domain,
    out: Option<In>,
}

const fn s(name: &'static str, x: In, axis: usize) -> SCase {
    SCase { name, x, axis, domain: Domain::Standard, out: None }
}

const SOFTMAX: &[SCase] = &[
    s("axis1_7x13", In::c(&[7, 13]), 1),
    s("axis0_7x13", In::c(&[7, 13]), 0),
    s("last_long_3x5x700", In::c(&[3, 5, 700]), 2),
    s("first_tall_513x3", In::c(&[513, 3]), 0),
    s("middle_4x6x5", In::c(&[4, 6, 5]), 1),
    s("size1_axis_5x1", In::c(&[5, 1]), 1),
    s("empty_0x5", In::c(&[0, 5]), 1),
    s("empty_axis_4x0", In::c(&[4, 0]), 1),
    s("transposed_7x13", In::v(&[13, 7], &[Transpose(0, 1)]), 1),
    s("sliced_8x10", In::v(&[8, 30], &[slice(1, 2, 30, 3)]), 1),
    SCase { domain: Domain::Uniform(-60.0, 60.0), ..s("large_magnitude_7x13", In::c(&[7, 13]), 1) },
    SCase { domain: Domain::Masked, ..s("masked_neg_inf_8x16", In::c(&[8, 16]), 1) },
    SCase { out: Some(In::v(&[7, 26], &[slice(1, 1, 26, 2)])), ..s("into_strided_7x13", In::c(&[7, 13]), 1) },
    s("large_256x1000", In::c(&[256, 1000]), 1),
];

/// Adds every reduce and softmax case for `device`.
pub(crate) fn add(suite: &mut Suite, device: &Device) {
    for op in ReduceOp::ALL {
        for dtype in DType::ALL {
            for case in REDUCE {
                if matches!(op, ReduceOp::Max | ReduceOp::Min) && reduced_extent(case) == 0 {
                    continue; // rejected by core: max/min of nothing
                }
                let s =
                    spec("reduce", &format!("reduce.{}", op.name()), dtype.name(), case.name, OpKind::Reduce, dtype);
                suite.add(device, s, move |dev, seed| run_reduce(case, op, dtype, dev, seed));
            }
        }
    }
    for log in [false, true] {
        let op = if log { "log_softmax" } else { "softmax" };
        for dtype in FLOAT_DTYPES {
            for case in SOFTMAX {
                let s = spec("softmax", op, dtype.name(), case.name, OpKind::Softmax, dtype);
                suite.add(device, s, move |dev, seed| run_softmax(case, log, dtype, dev, seed));
            }
        }
    }
}

fn reduced_extent(case: &RCase) -> usize {
    let shape = case.x.logical_shape();
    if case.axes.is_empty() { shape.iter().product() } else { case.axes.iter().map(|&a| shape[a]).product() }
}

fn run_reduce(case: &'static RCase, op: ReduceOp, dtype: DType, device: &Device, seed: u64) -> Result<(), CheckError> {
    let mut rng = Rng::new(seed);
    let domain = match (case.special, dtype.is_float()) {
        (true, _) => Domain::Special,
        (false, true) => Domain::Standard,
        (false, false) => Domain::Full,
    };
    let x = case.x.generate(&mut rng, dtype, domain);
    let out_dtype = op.out_dtype(dtype);
    let prev = case.out.map(|o| o.generate(&mut rng, out_dtype, Domain::Standard));
    let tol = match op {
        ReduceOp::Max | ReduceOp::Min => Tolerance::EXACT,
        ReduceOp::Sum | ReduceOp::Mean => Tolerance::reduction(out_dtype, reduced_extent(case)),
    };
    check_against_reference(device, tol, |dev| {
        let (_, x) = case.x.realize(dev, &x)?;
        match (&case.out, &prev) {
            (Some(spec), Some(prev)) => {
                let (storage, mut out) = spec.realize(dev, prev)?;
                ops::reduce_into(&x, op, case.axes, case.keepdim, &mut out)?;
                Ok(storage)
            }
            _ => ops::reduce(&x, op, case.axes, case.keepdim),
        }
    })
}

fn run_softmax(case: &'static SCase, log: bool, dtype: DType, device: &Device, seed: u64) -> Result<(), CheckError> {
    let mut rng = Rng::new(seed);
    let x = case.x.generate(&mut rng, dtype, case.domain);
    let prev = case.out.map(|o| o.generate(&mut rng, dtype, Domain::Standard));
    let k = case.x.logical_shape().get(case.axis).copied().unwrap_or(1);
    check_against_reference(device, Tolerance::reduction(dtype, k), |dev| {
        let (_, x) = case.x.realize(dev, &x)?;
        match (&case.out, &prev) {
            (Some(spec), Some(prev)) => {
                let (storage, mut out) = spec.realize(dev, prev)?;
                ops::softmax_into(&x, case.axis, log, &mut out)?;
                Ok(storage)
            }
            _ => ops::softmax(&x, case.axis, log),
        }
    })
}
