//! Conformance of the in-process transport: every collective × reduce op × dtype × rank count
//! 1..=8 × in-place/out-of-place, on a mix of CPU and emulated devices, checked bit-exactly
//! against a host oracle. Inputs are order-independent (small integers for sums, powers of two
//! for products, anything for max/min; integer sums and products wrap, which is associative),
//! so every algorithm must give exactly the oracle's bits.

use accel::comm::{Algorithm, Collective, Communicator, LocalGroup, LocalOptions, ReduceOp};
use accel::{DType, Device, Tensor};
use half::{bf16, f16};
use std::sync::Arc;

/// Devices for `n` ranks: CPU and an emulated NPU alternating (mixed devices in one group:
/// reductions take the generic path through the device API).
fn devices(n: usize) -> Vec<Device> {
    let npu = accel::emu::device("tpu-v1").expect("tpu-v1 preset");
    (0..n).map(|r| if r % 2 == 0 { accel::cpu() } else { npu.clone() }).collect()
}

/// `n` CPU ranks: every tensor in host memory, so reductions take the direct path (the
/// leader reduces straight between the ranks' buffers).
fn cpu_devices(n: usize) -> Vec<Device> {
    (0..n).map(|_| accel::cpu()).collect()
}

/// Element `i` of rank `rank`'s input, as f64, order-independent for `op`.
fn value(dtype: DType, op: Option<ReduceOp>, rank: usize, i: usize, salt: usize) -> f64 {
    let h = (rank * 7919 + i * 104729 + salt * 31337).wrapping_mul(2654435761) >> 7;
    match (dtype.is_float(), op) {
        (true, Some(ReduceOp::Prod)) => [1.0, -1.0, 2.0, -2.0, 0.5][h % 5],
        (true, Some(ReduceOp::Max | ReduceOp::Min)) => ((h % 2001) as f64 - 1000.0) / 8.0,
        (true, _) => (h % 9) as f64 - 4.0,
        (false, _) => {
            let (lo, hi) = dtype.int_range().expect("integer dtype");
            let span = (hi - lo + 1.0).min(1e9);
            lo.max(-5e8) + (h as f64 % span)
        }
    }
}

fn encode(dtype: DType, values: &[f64]) -> Vec<u8> {
    let mut out = vec![0u8; values.len() * dtype.size()];
    for (i, &v) in values.iter().enumerate() {
        accel::dtype::write_f64(&mut out, dtype, i, v);
    }
    out
}

/// The oracle: the reduction of one element's values with the documented semantics.
fn reduce(dtype: DType, op: ReduceOp, xs: &[f64]) -> f64 {
    let n = xs.len();
    if dtype.is_float() {
        // Order-independent inputs: the f64 result is exact, hence also the f32 accumulation.
        let v = match op {
            ReduceOp::Sum => xs.iter().sum::<f64>(),
            ReduceOp::Avg => ((xs.iter().sum::<f64>() as f32) / n as f32) as f64,
            ReduceOp::Prod => xs.iter().product(),
            ReduceOp::Max => xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ReduceOp::Min => xs.iter().copied().fold(f64::INFINITY, f64::min),
        };
        return v;
    }
    let is = xs.iter().map(|&x| x as i64);
    let v = match op {
        ReduceOp::Sum => is.fold(0i64, i64::wrapping_add),
        ReduceOp::Avg => is.sum::<i64>() / n as i64,
        ReduceOp::Prod => is.fold(1i64, i64::wrapping_mul),
        ReduceOp::Max => is.max().expect("n >= 1"),
        ReduceOp::Min => is.min().expect("n >= 1"),
    };
    // Wrap to the dtype's width, as the transport does.
    match dtype {
        DType::I8 => v as i8 as f64,
        DType::U8 => v as u8 as f64,
        _ => v as i32 as f64,
    }
}

#[derive(Clone, Copy, Debug)]
struct Case {
    collective: Collective,
    dtype: DType,
    in_place: bool,
    unit: usize,
}

/// Runs `case` as `rank` and returns a description of any difference from the oracle.
fn run_case(comm: &dyn Communicator, dev: &Device, case: Case, salt: usize) -> Result<(), String> {
    let (n, r) = (comm.size(), comm.rank());
    let Case { collective, dtype, in_place, unit } = case;
    let op = collective.reduce_op();
    let input_len = match collective {
        Collective::ReduceScatter { .. } | Collective::AllToAll => unit * n,
        _ => unit,
    };
    let output_len = match collective {
        Collective::AllGather | Collective::AllToAll => unit * n,
        _ => unit,
    };
    let inputs: Vec<Vec<f64>> =
        (0..n).map(|k| (0..input_len).map(|i| value(dtype, op, k, i, salt)).collect()).collect();
    let sentinel = vec![if dtype == DType::U8 { 77.0 } else { -77.0 }; output_len];
    let fail = |e: accel::Error| format!("{case:?} rank {r}/{n}: {e}");
    // The tensor the call reads and writes, and what it should hold afterwards.
    let (input, output) = if in_place {
        let init: Vec<f64> = match collective {
            Collective::AllGather => {
                let mut b = sentinel.clone();
                b[r * unit..(r + 1) * unit].copy_from_slice(&inputs[r]);
                b
            }
            _ => inputs[r].clone(),
        };
        let buf = Tensor::from_bytes(dev, &[init.len()], dtype, &encode(dtype, &init)).map_err(fail)?;
        (None, buf)
    } else {
        let i = Tensor::from_bytes(dev, &[input_len], dtype, &encode(dtype, &inputs[r])).map_err(fail)?;
        let o = Tensor::from_bytes(dev, &[output_len], dtype, &encode(dtype, &sentinel)).map_err(fail)?;
        (Some(i), o)
    };
    let before = output.to_f64_vec().map_err(fail)?;
    let call = accel::comm::Call { collective, input: input.clone(), output: Some(output.clone()) };
    comm.run(call).map_err(fail)?;
    let got = output.to_bytes().map_err(fail)?;
    let red = |i: usize| reduce(dtype, op.expect("reducing"), &inputs.iter().map(|x| x[i]).collect::<Vec<_>>());
    let expected: Vec<f64> = match collective {
        Collective::AllReduce { .. } => (0..unit).map(red).collect(),
        Collective::Reduce { root, .. } if r == root => (0..unit).map(red).collect(),
        Collective::Reduce { .. } => before,
        Collective::ReduceScatter { .. } if in_place => {
            let mut b = before;
            for i in 0..unit {
                b[r * unit + i] = red(r * unit + i);
            }
            b
        }
        Collective::ReduceScatter { .. } => (0..unit).map(|i| red(r * unit + i)).collect(),
        Collective::AllGather => inputs.concat(),
        Collective::Broadcast { root } => inputs[root].clone(),
        Collective::AllToAll => (0..n).flat_map(|j| inputs[j][r * unit..(r + 1) * unit].to_vec()).collect(),
        Collective::Barrier => before,
    };
    let want = encode(dtype, &expected);
    if got != want {
        let es = dtype.size();
        let i = (0..got.len() / es).find(|&i| got[i * es..(i + 1) * es] != want[i * es..(i + 1) * es]).unwrap_or(0);
        let got_v = output.to_f64_vec().map_err(fail)?[i];
        return Err(format!("{case:?} rank {r}/{n}: element {i} is {got_v}, expected {}", expected[i]));
    }
    Ok(())
}

fn all_cases(n: usize) -> Vec<Case> {
    let root = (3 * n + 1) % n;
    let mut kinds = vec![Collective::AllGather, Collective::Broadcast { root }, Collective::AllToAll];
    for op in ReduceOp::ALL {
        kinds.extend([Collective::AllReduce { op }, Collective::ReduceScatter { op }, Collective::Reduce { op, root }]);
    }
    let mut cases = Vec::new();
    for collective in kinds {
        for dtype in DType::ALL {
            for in_place in [false, true] {
                // 37 elements with 64-byte blocks: several blocks, ragged chunks, chunks of 0.
                let unit = if dtype.is_float() && !in_place { 37 } else { 5 };
                cases.push(Case { collective, dtype, in_place, unit });
            }
        }
    }
    cases
}

/// Runs `f(rank's comm, rank's device)` on one thread per rank; collects every failure.
fn on_ranks<F>(comms: &[accel::comm::LocalComm], devs: &[Device], f: F) -> Vec<String>
where
    F: Fn(&dyn Communicator, &Device) -> Vec<String> + Sync,
{
    std::thread::scope(|s| {
        let handles: Vec<_> = comms.iter().zip(devs).map(|(c, d)| s.spawn(|| f(c, d))).collect();
        handles.into_iter().flat_map(|h| h.join().expect("rank thread panicked")).collect()
    })
}

#[test]
fn every_collective_op_dtype_and_rank_count_is_bit_exact() {
    let mut failures = Vec::new();
    let mut calls = 0;
    for (n, cpu_only) in (1..=8).flat_map(|n| [(n, false), (n, true)]) {
        for (a, algorithm) in
            [Algorithm::Auto, Algorithm::Ring, Algorithm::Tree, Algorithm::Direct].into_iter().enumerate()
        {
            // Auto on every rank count; the forced algorithms on 3 and 8 ranks.
            if algorithm != Algorithm::Auto && n != 3 && n != 8 {
                continue;
            }
            let devs = if cpu_only { cpu_devices(n) } else { devices(n) };
            let options = LocalOptions { algorithm, block_bytes: 64, ..LocalOptions::default() };
            let comms = LocalGroup::with_options(&devs, options).expect("group");
            let cases = all_cases(n);
            calls += cases.len();
            failures.extend(on_ranks(&comms, &devs, |comm, dev| {
                cases.iter().enumerate().filter_map(|(i, &c)| run_case(comm, dev, c, i + a).err()).collect()
            }));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

/// Host reference of deterministic mode: f32 (or widened f16/bf16) fold in rank order.
fn sequential_fold(dtype: DType, per_rank: &[Vec<u8>]) -> Vec<u8> {
    let len = per_rank[0].len() / dtype.size();
    let widen = |b: &[u8], i: usize| accel::dtype::read_f64(b, dtype, i) as f32;
    let mut out = vec![0u8; per_rank[0].len()];
    for i in 0..len {
        let mut acc = widen(&per_rank[0], i);
        for r in &per_rank[1..] {
            acc += widen(r, i);
        }
        match dtype {
            DType::F32 => out[i * 4..i * 4 + 4].copy_from_slice(&acc.to_le_bytes()),
            DType::F16 => out[i * 2..i * 2 + 2].copy_from_slice(&f16::from_f32(acc).to_le_bytes()),
            _ => out[i * 2..i * 2 + 2].copy_from_slice(&bf16::from_f32(acc).to_le_bytes()),
        }
    }
    out
}

/// Random floats of widely different magnitudes: any change of order changes the bits.
fn noisy(dtype: DType, rank: usize, len: usize) -> Vec<u8> {
    let v: Vec<f64> = (0..len)
        .map(|i| {
            let h = ((rank * 1_000_003 + i * 7_919) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
            let m = (h % 1_000_000) as f64 / 1e6 - 0.5;
            m * 10f64.powi((h % 7) as i32 - 3)
        })
        .collect();
    encode(dtype, &v)
}

fn all_reduce_bytes(n_data: usize, devs: &[Device], dtype: DType, len: usize, options: LocalOptions) -> Vec<Vec<u8>> {
    let n = devs.len();
    let comms = LocalGroup::with_options(devs, options).expect("group");
    let zeros = vec![0u8; len * dtype.size()];
    let results = std::sync::Mutex::new(vec![Vec::new(); n]);
    let errs = on_ranks(&comms, devs, |comm, dev| {
        let r = comm.rank();
        let data = if r < n_data { noisy(dtype, r, len) } else { zeros.clone() };
        let run = || -> accel::Result<Vec<u8>> {
            let t = Tensor::from_bytes(dev, &[len], dtype, &data)?;
            comm.all_reduce_in_place(&t, ReduceOp::Sum)?;
            t.to_bytes()
        };
        match run() {
            Ok(b) => {
                results.lock().unwrap()[r] = b;
                vec![]
            }
            Err(e) => vec![e.to_string()],
        }
    });
    assert!(errs.is_empty(), "{errs:?}");
    results.into_inner().unwrap()
}

#[test]
fn deterministic_mode_gives_the_same_bits_whatever_the_algorithm_size_and_rank_count() {
    for dtype in [DType::F32, DType::BF16, DType::F16] {
        let len = 1000;
        let expected = sequential_fold(dtype, &(0..4).map(|r| noisy(dtype, r, len)).collect::<Vec<_>>());
        for algorithm in [Algorithm::Auto, Algorithm::Ring, Algorithm::Tree, Algorithm::Direct] {
            for block_bytes in [64, 4096, 1 << 20] {
                // 4 ranks with data, then the same data on 8 ranks where 4 add zeros; mixed
                // devices (generic path) and CPU only (direct path).
                for (n, cpu_only) in [(4, false), (8, false), (2, true), (4, true), (8, true)] {
                    let devs = if cpu_only { cpu_devices(n) } else { devices(n) };
                    let n_data = if cpu_only && n == 2 { 2 } else { 4 };
                    let expected = if n_data == 4 {
                        expected.clone()
                    } else {
                        sequential_fold(dtype, &(0..2).map(|r| noisy(dtype, r, len)).collect::<Vec<_>>())
                    };
                    let options =
                        LocalOptions { algorithm, block_bytes, deterministic: true, ..LocalOptions::default() };
                    for (r, got) in all_reduce_bytes(n_data, &devs, dtype, len, options).iter().enumerate() {
                        assert!(
                            got == &expected,
                            "{dtype} {algorithm} block {block_bytes} ranks {n} cpu-only {cpu_only}: rank {r} differs from the rank-order fold"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn default_mode_agrees_across_ranks_and_follows_the_algorithm_order() {
    let len = 999;
    let dtype = DType::F32;
    let per_rank: Vec<Vec<u8>> = (0..5).map(|r| noisy(dtype, r, len)).collect();
    for (algorithm, cpu_only) in
        [(Algorithm::Ring, false), (Algorithm::Tree, false), (Algorithm::Ring, true), (Algorithm::Tree, true)]
    {
        let options = LocalOptions { algorithm, ..LocalOptions::default() };
        let devs = if cpu_only { cpu_devices(5) } else { devices(5) };
        let got = all_reduce_bytes(5, &devs, dtype, len, options.clone());
        assert!(got.iter().all(|g| g == &got[0]), "{algorithm}: ranks disagree");
        // The direct path (CPU only) and the generic one (mixed devices) give the same bits.
        let other_devs = if cpu_only { devices(5) } else { cpu_devices(5) };
        let other = all_reduce_bytes(5, &other_devs, dtype, len, options.clone());
        assert!(got[0] == other[0], "{algorithm}: direct and generic paths differ");
        if algorithm == Algorithm::Ring {
            // Chunk c (elements [c·len/5, (c+1)·len/5)) is summed starting at rank c.
            let c = 3;
            let i = c * len / 5 + 1;
            let v = |r: usize| f32::from_le_bytes(per_rank[r][i * 4..i * 4 + 4].try_into().unwrap());
            let ring = (((v(3) + v(4)) + v(0)) + v(1)) + v(2);
            assert_eq!(f32::from_le_bytes(got[0][i * 4..i * 4 + 4].try_into().unwrap()).to_bits(), ring.to_bits());
        }
    }
}

#[test]
fn a_rank_that_never_arrives_times_out_the_others_naming_it() {
    let devs = devices(3);
    let timeout = std::time::Duration::from_millis(300);
    let comms = LocalGroup::with_options(&devs, LocalOptions { timeout, ..LocalOptions::default() }).unwrap();
    let comms = Arc::new(comms);
    let errs = on_ranks(&comms, &devs, |comm, dev| {
        if comm.rank() == 2 {
            return vec![];
        }
        let t = Tensor::full(dev, &[16], DType::F32, 1.0).unwrap();
        let start = std::time::Instant::now();
        let err = comm.all_reduce_in_place(&t, ReduceOp::Sum).expect_err("rank 2 never arrives");
        let waited = start.elapsed();
        let mut out = vec![];
        match &err {
            accel::Error::CommTimeout { op, missing, seq, .. } => {
                if *op != "all_reduce_in_place" || missing != &vec![2] || *seq != 1 {
                    out.push(format!("wrong timeout: {err}"));
                }
            }
            e => out.push(format!("expected a timeout, got {e}")),
        }
        let msg = err.to_string();
        if !msg.contains("all_reduce") || !msg.contains("[2]") {
            out.push(format!("message does not name the call and the rank: {msg}"));
        }
        // The deadline holds (with a wide margin for a loaded machine).
        if waited > timeout * 20 {
            out.push(format!("timed out after {waited:?}, deadline {timeout:?}"));
        }
        // The communicator is aborted: later calls fail at once instead of hanging.
        match comm.barrier() {
            Err(accel::Error::CommAborted { .. }) => {}
            r => out.push(format!("after a timeout, barrier gave {r:?}")),
        }
        out
    });
    assert!(errs.is_empty(), "{errs:#?}");
    // The late rank is refused too.
    assert!(matches!(comms[2].barrier(), Err(accel::Error::CommAborted { .. })));
}

#[test]
fn diverging_calls_name_the_rank_that_diverged() {
    for debug in [false, true] {
        let devs = devices(3);
        let options = LocalOptions { debug, ..LocalOptions::default() };
        let comms = LocalGroup::with_options(&devs, options).unwrap();
        let errs = on_ranks(&comms, &devs, |comm, dev| {
            let t = Tensor::full(dev, &[4], DType::F32, 1.0).unwrap();
            let r = comm.rank();
            // Rank 1 broadcasts while the others all-reduce: always an error.
            let res = if r == 1 { comm.broadcast_in_place(&t, 0) } else { comm.all_reduce_in_place(&t, ReduceOp::Sum) };
            let mut out = vec![];
            match res {
                Err(accel::Error::CommMismatch { other_rank, ref got, .. }) if r != 1 => {
                    if other_rank != 1 || !got.contains("broadcast") {
                        out.push(format!("rank {r}: names rank {other_rank} / {got}"));
                    }
                }
                Err(accel::Error::CommMismatch { .. }) => {}
                other => out.push(format!("rank {r}: expected a mismatch, got {other:?}")),
            }
            // Same element count, different shape and reduce op: only debug mode objects.
            let shaped = if r == 2 { t.reshape(&[2, 2]).unwrap() } else { t.clone() };
            let op = if r == 2 { ReduceOp::Max } else { ReduceOp::Sum };
            let res = comm.all_reduce_in_place(&shaped, op);
            match (debug, res) {
                (false, Ok(())) => {}
                (true, Err(accel::Error::CommMismatch { other_rank, .. })) if r != 2 && other_rank == 2 => {}
                (true, Err(accel::Error::CommMismatch { .. })) if r == 2 => {}
                (d, other) => out.push(format!("debug {d} rank {r}: {other:?}")),
            }
            // The group is still usable after a mismatch (every rank saw it).
            if let Err(e) = comm.barrier() {
                out.push(format!("rank {r}: barrier after a mismatch: {e}"));
            }
            out
        });
        assert!(errs.is_empty(), "{errs:#?}");
    }
}

#[test]
fn async_calls_complete_in_issue_order() {
    let devs = devices(4);
    let comms = LocalGroup::new(&devs).unwrap();
    let errs = on_ranks(&comms, &devs, |comm, dev| {
        let r = comm.rank() as f32;
        let a = Tensor::full(dev, &[1000], DType::F32, r as f64).unwrap();
        let b = Tensor::full(dev, &[1000], DType::F32, 1.0).unwrap();
        let w1 = comm.all_reduce_in_place_async(&a, ReduceOp::Sum).unwrap();
        let w2 = comm.all_reduce_in_place_async(&b, ReduceOp::Max).unwrap();
        let seqs = (w1.seq(), w2.seq());
        // A blocking call after async ones waits for them (issue order).
        comm.all_reduce_in_place(&a, ReduceOp::Sum).unwrap();
        let mut out = vec![];
        if let Err(e) = w1.wait().and(w2.wait()) {
            out.push(e.to_string());
        }
        if seqs != (1, 2) || comm.next_seq() != 4 {
            out.push(format!("sequence numbers {seqs:?}, next {}", comm.next_seq()));
        }
        if a.to_vec::<f32>().unwrap() != vec![24.0; 1000] || b.to_vec::<f32>().unwrap() != vec![1.0; 1000] {
            out.push("wrong results".into());
        }
        out
    });
    assert!(errs.is_empty(), "{errs:#?}");
}

#[test]
fn send_and_recv_pass_around_a_ring_and_recv_times_out_naming_the_sender() {
    let devs = devices(4);
    let comms = LocalGroup::new(&devs).unwrap();
    let errs = on_ranks(&comms, &devs, |comm, dev| {
        let (r, n) = (comm.rank(), comm.size());
        let t = Tensor::from_slice(dev, &[3], &[r as i32, 1, 2]).unwrap();
        comm.send(&t, (r + 1) % n).unwrap();
        let got = Tensor::zeros(dev, &[3], DType::I32).unwrap();
        comm.recv(&got, (r + n - 1) % n).unwrap();
        let mut out = vec![];
        if got.to_vec::<i32>().unwrap() != vec![((r + n - 1) % n) as i32, 1, 2] {
            out.push(format!("rank {r}: wrong message"));
        }
        comm.set_timeout(std::time::Duration::from_millis(50));
        match comm.recv(&got, (r + 2) % n) {
            Err(accel::Error::CommTimeout { op: "recv", missing, .. }) if missing == vec![(r + 2) % n] => {}
            other => out.push(format!("rank {r}: {other:?}")),
        }
        let wrong = Tensor::zeros(dev, &[2], DType::I32).unwrap();
        comm.set_timeout(std::time::Duration::from_secs(60));
        comm.send(&t, r).unwrap();
        if !matches!(comm.recv(&wrong, r), Err(accel::Error::CommMismatch { .. })) {
            out.push(format!("rank {r}: a shape mismatch was not reported"));
        }
        out
    });
    assert!(errs.is_empty(), "{errs:#?}");
}

#[test]
fn bad_arguments_are_errors_naming_the_argument() {
    let devs = devices(2);
    let comms = LocalGroup::new(&devs).unwrap();
    let c = &comms[0];
    let dev = &devs[0];
    let t = Tensor::zeros(dev, &[8], DType::F32).unwrap();
    let msg = |r: accel::Result<()>| r.expect_err("invalid call").to_string();
    assert!(msg(c.all_reduce(&t, &t, ReduceOp::Sum)).contains("all_reduce_in_place"));
    let halves = (t.slice(0, 0..5).unwrap(), t.slice(0, 3..8).unwrap());
    assert!(msg(c.all_reduce(&halves.0, &halves.1, ReduceOp::Sum)).contains("overlap"));
    assert!(msg(c.broadcast_in_place(&t, 2)).contains("root"));
    let odd = Tensor::zeros(dev, &[7], DType::F32).unwrap();
    assert!(msg(c.all_gather(&t, &odd)).contains("16 elements"));
    assert!(msg(c.reduce_scatter_in_place(&odd, ReduceOp::Sum)).contains("multiple of 2"));
    let strided = Tensor::zeros(dev, &[4, 4], DType::F32).unwrap().t().unwrap();
    assert!(msg(c.all_reduce_in_place(&strided, ReduceOp::Sum)).contains("contiguous"));
    let elsewhere = Tensor::zeros(&devs[1], &[8], DType::F32).unwrap();
    assert!(msg(c.all_reduce_in_place(&elsewhere, ReduceOp::Sum)).contains("device"));
    let i32s = Tensor::zeros(dev, &[8], DType::I32).unwrap();
    assert!(msg(c.all_reduce(&t, &i32s, ReduceOp::Sum)).contains("dtype"));
    // Disjoint views of one buffer are fine out of place (checked on a 1-rank group).
    let solo = LocalGroup::new(&devs[..1]).unwrap();
    solo[0].all_reduce(&halves.0.slice(0, 0..3).unwrap(), &t.slice(0, 5..8).unwrap(), ReduceOp::Sum).unwrap();
}

/// The all-reduce of `len` f32 per rank (noisy values, every tensor at an offset in its
/// buffer), in place or into a fresh output; every rank's result bytes.
fn all_reduce_offset(
    devs: &[Device],
    options: &LocalOptions,
    len: usize,
    op: ReduceOp,
    in_place: bool,
) -> Vec<Vec<u8>> {
    let n = devs.len();
    let comms = LocalGroup::with_options(devs, options.clone()).expect("group");
    let out = std::sync::Mutex::new(vec![Vec::new(); n]);
    let errs = on_ranks(&comms, devs, |comm, dev| {
        let r = comm.rank();
        let go = || -> accel::Result<Vec<u8>> {
            // 5 leading elements: the tensors sit at an offset in their buffers.
            let data = noisy(DType::F32, r, len + 5);
            let input = Tensor::from_bytes(dev, &[len + 5], DType::F32, &data)?.slice(0, 5..len + 5)?;
            let output = if in_place {
                input.clone()
            } else {
                Tensor::zeros(dev, &[len + 2], DType::F32)?.slice(0, 2..len + 2)?
            };
            let call = if in_place {
                accel::comm::Call::in_place(Collective::AllReduce { op }, &output)
            } else {
                accel::comm::Call::out_of_place(Collective::AllReduce { op }, &input, &output)
            };
            comm.run(call)?;
            output.to_bytes()
        };
        match go() {
            Ok(b) => {
                out.lock().unwrap()[r] = b;
                vec![]
            }
            Err(e) => vec![e.to_string()],
        }
    });
    assert!(errs.is_empty(), "{errs:?}");
    out.into_inner().unwrap()
}

/// The direct path on CPU tensors at a size that brings in helper threads (over 1 MiB per
/// output), with tensors at an offset in their buffers, in place and out of place, and every
/// reduce op: bit-identical to the generic path (mixed devices) and across ranks.
#[test]
fn large_cpu_reductions_match_the_generic_path_bit_for_bit() {
    let len = (1 << 18) + 3;
    for (algorithm, deterministic) in [(Algorithm::Auto, false), (Algorithm::Tree, false), (Algorithm::Ring, true)] {
        for n in [2, 3] {
            for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Avg] {
                for in_place in [false, true] {
                    let options = LocalOptions { algorithm, deterministic, ..LocalOptions::default() };
                    let direct = all_reduce_offset(&cpu_devices(n), &options, len, op, in_place);
                    let generic = all_reduce_offset(&devices(n), &options, len, op, in_place);
                    let what = format!("{algorithm} deterministic {deterministic} n {n} {op} in-place {in_place}");
                    assert!(direct.iter().all(|d| d == &direct[0]), "{what}: ranks disagree");
                    assert!(direct[0] == generic[0], "{what}: direct and generic paths differ");
                }
            }
        }
    }
}

/// Out of place past 32 MiB of results the direct path writes with streaming stores (the
/// CPU backend's `combine_streaming`); in place it does not. Both give the same bits, for
/// every op the streaming step handles and one it declines (Max).
#[test]
fn streamed_out_of_place_reductions_match_in_place_bit_for_bit() {
    let len = (1 << 22) + 3;
    for n in [2, 3] {
        for op in [ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Prod, ReduceOp::Max] {
            let options = LocalOptions::default();
            let streamed = all_reduce_offset(&cpu_devices(n), &options, len, op, false);
            let in_place = all_reduce_offset(&cpu_devices(n), &options, len, op, true);
            assert!(streamed.iter().all(|d| d == &streamed[0]), "n {n} {op}: ranks disagree");
            assert!(streamed[0] == in_place[0], "n {n} {op}: out of place (streamed) and in place differ");
        }
    }
}

/// Tensors of different ranks in one buffer: a shared input is fine for the direct path;
/// outputs that are views of one buffer send the call down the generic path (no deadlock,
/// the right result).
#[test]
fn ranks_sharing_buffers_get_the_right_result() {
    let n = 2;
    let len = 1000;
    let devs = cpu_devices(n);
    let comms = LocalGroup::new(&devs).expect("group");
    let dev = &devs[0];
    let shared_in = Tensor::full(dev, &[len], DType::F32, 1.5).unwrap();
    let both_out = Tensor::zeros(dev, &[2 * len], DType::F32).unwrap();
    let errs = on_ranks(&comms, &devs, |comm, dev| {
        let r = comm.rank();
        let mut errs = vec![];
        let own = Tensor::zeros(dev, &[len], DType::F32).unwrap();
        if let Err(e) = comm.all_reduce(&shared_in, &own, ReduceOp::Sum) {
            errs.push(format!("shared input: {e}"));
        } else if own.to_vec::<f32>().unwrap() != vec![3.0; len] {
            errs.push("shared input: wrong sum".into());
        }
        let input = Tensor::full(dev, &[len], DType::F32, r as f64 + 1.0).unwrap();
        let out = both_out.slice(0, r * len..(r + 1) * len).unwrap();
        if let Err(e) = comm.all_reduce(&input, &out, ReduceOp::Sum) {
            errs.push(format!("outputs in one buffer: {e}"));
        } else if out.to_vec::<f32>().unwrap() != vec![3.0; len] {
            errs.push("outputs in one buffer: wrong sum".into());
        }
        errs
    });
    assert!(errs.is_empty(), "{errs:?}");
}
