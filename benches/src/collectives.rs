//! Collectives benchmark in the nccl-tests style: sizes from 8 B to 256 MiB (×2 or ×4
//! steps), out-of-place and in-place, time per call, `algbw = S / t` and
//! `busbw = algbw × factor` (GB = 1e9 B, factors from [`bus_factor`]), each size checked once
//! for each form with order-independent data (`#wrong` counts mismatching elements).
//! For the in-process group, the host memcpy bandwidth of the same size is measured in the
//! same run as the reference (`S / t` of one `copy_from_slice` on one thread, the copy a
//! rank's share of the work amounts to).
//!
//! [`run_local`] is the entry point the harness calls; `cargo run --release -p accel-bench
//! --example collectives -- --help` prints the command line.

use accel::comm::{Algorithm, Call, Collective, Communicator, LocalGroup, LocalOptions, ReduceOp, bus_factor};
use accel::{DType, Device, Tensor};
use std::fmt::Write as _;
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone)]
pub struct CollConfig {
    /// Collectives (reduce ops and roots inside).
    pub collectives: Vec<Collective>,
    /// Ranks (one thread and one device each).
    pub ranks: usize,
    /// Smallest and largest size `S` in bytes (nccl-tests' size), and the step factor.
    pub min_bytes: usize,
    /// Largest size.
    pub max_bytes: usize,
    /// Multiply the size by this between rows (≥ 2).
    pub factor: usize,
    /// Element type.
    pub dtype: DType,
    /// Algorithm (Auto: by size).
    pub algorithm: Algorithm,
    /// Deterministic reduction order.
    pub deterministic: bool,
    /// Timed iterations per size (after one warm-up); large sizes run fewer, see
    /// [`CollConfig::iters_for`].
    pub iters: usize,
    /// Devices by rank (CPU for all when empty).
    pub devices: Vec<Device>,
}

impl Default for CollConfig {
    fn default() -> Self {
        CollConfig {
            collectives: vec![Collective::AllReduce { op: ReduceOp::Sum }],
            ranks: 2,
            min_bytes: 8,
            max_bytes: 256 << 20,
            factor: 4,
            dtype: DType::F32,
            algorithm: Algorithm::Auto,
            deterministic: false,
            iters: 20,
            devices: Vec::new(),
        }
    }
}

impl CollConfig {
    /// Iterations for size `bytes`: `iters`, but at most ~1 GB moved per size in all.
    pub fn iters_for(&self, bytes: usize) -> usize {
        (1_000_000_000 / bytes.max(1)).clamp(3, self.iters.max(3))
    }
}

/// One row: one collective at one size, both forms.
#[derive(Debug, Clone, PartialEq)]
pub struct CollRow {
    /// Collective name.
    pub collective: &'static str,
    /// Reduce op, if any.
    pub op: Option<ReduceOp>,
    /// Root, if any.
    pub root: Option<usize>,
    /// nccl-tests size `S`, bytes.
    pub bytes: usize,
    /// Elements per rank unit.
    pub count: usize,
    /// Out-of-place: seconds per call, algbw, busbw (GB/s), wrong elements.
    pub out_of_place: Measure,
    /// In-place.
    pub in_place: Measure,
    /// Host memcpy of `S` bytes on one thread, GB/s, measured right before.
    pub memcpy_gbs: f64,
}

/// Time and bandwidths of one form.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Measure {
    /// Seconds per call (mean over the timed iterations, rank 0's clock between barriers).
    pub seconds: f64,
    /// `S / t`, GB/s.
    pub algbw: f64,
    /// `algbw × factor`, GB/s.
    pub busbw: f64,
    /// Elements that differed from the expected result in the check.
    pub wrong: usize,
}

/// Host memcpy bandwidth of `bytes` (GB/s, best of a few copies on this thread).
///
/// Source and destination are cut from one allocation with the destination 2 KiB past a
/// 4 KiB multiple from the source. Two separate allocations land wherever the allocator puts
/// them, often a few bytes past a 4 KiB multiple apart, and then the copy (glibc's
/// `rep movsb` on this AMD guest) runs at 2–3 GB/s instead of 30+ at 8–32 KiB: a figure
/// of the placement, not of the machine.
pub fn memcpy_gbs(bytes: usize) -> f64 {
    let len = bytes.max(8);
    let gap = len.next_multiple_of(4096) + 2048;
    let mut both = vec![1u8; gap + len];
    let (src, rest) = both.split_at_mut(gap);
    let (src, dst) = (&src[..len], &mut rest[..len]);
    dst.fill(0);
    let reps = (2_000_000_000 / bytes.max(1)).clamp(3, 1000);
    let mut best = f64::INFINITY;
    for _ in 0..reps.min(50) {
        let t = Instant::now();
        for _ in 0..reps / reps.min(50) {
            dst.copy_from_slice(std::hint::black_box(src));
        }
        best = best.min(t.elapsed().as_secs_f64() / (reps / reps.min(50)) as f64);
        std::hint::black_box(&dst);
    }
    bytes as f64 / best / 1e9
}

/// Element counts (per rank unit) for a collective whose size `S` is `bytes`.
fn unit_for(collective: Collective, bytes: usize, es: usize, n: usize) -> usize {
    let elems = (bytes / es).max(1);
    match collective {
        Collective::AllGather | Collective::ReduceScatter { .. } | Collective::AllToAll => (elems / n).max(1),
        _ => elems,
    }
}

/// Order-independent value of rank `r`'s element `i` (small integers: exact sums).
fn value(r: usize, i: usize) -> f64 {
    ((r * 3 + i * 7) % 5) as f64 - 2.0
}

fn tensors(dev: &Device, dtype: DType, len: usize, r: usize) -> accel::Result<Tensor> {
    let mut bytes = vec![0u8; len * dtype.size()];
    for i in 0..len {
        accel::dtype::write_f64(&mut bytes, dtype, i, value(r, i));
    }
    Tensor::from_bytes(dev, &[len], dtype, &bytes)
}

/// Expected output of rank `r` (the check uses Sum/Avg/Max/Min/Prod on the small integers).
fn expected(collective: Collective, n: usize, r: usize, unit: usize) -> Vec<f64> {
    let red = |op: ReduceOp, i: usize| {
        let xs = (0..n).map(|k| value(k, i));
        match op {
            ReduceOp::Sum => xs.sum::<f64>(),
            ReduceOp::Avg => ((xs.sum::<f64>() as f32) / n as f32) as f64,
            ReduceOp::Prod => xs.product(),
            ReduceOp::Max => xs.fold(f64::MIN, f64::max),
            ReduceOp::Min => xs.fold(f64::MAX, f64::min),
        }
    };
    match collective {
        Collective::AllReduce { op } | Collective::Reduce { op, .. } => (0..unit).map(|i| red(op, i)).collect(),
        Collective::ReduceScatter { op } => (0..unit).map(|i| red(op, r * unit + i)).collect(),
        Collective::AllGather => (0..n).flat_map(|k| (0..unit).map(move |i| value(k, i))).collect(),
        Collective::Broadcast { root } => (0..unit).map(|i| value(root, i)).collect(),
        Collective::AllToAll => (0..n).flat_map(|j| (0..unit).map(move |i| value(j, r * unit + i))).collect(),
        Collective::Barrier => Vec::new(),
    }
}

/// Runs one form of one size on every rank; returns (seconds per call, wrong elements).
fn measure(
    comms: &[accel::comm::LocalComm],
    devices: &[Device],
    cfg: &CollConfig,
    collective: Collective,
    bytes: usize,
    in_place: bool,
) -> accel::Result<(f64, usize)> {
    let n = comms.len();
    let es = cfg.dtype.size();
    let unit = unit_for(collective, bytes, es, n);
    let (in_len, out_len) = match collective {
        Collective::AllGather => (unit, unit * n),
        Collective::ReduceScatter { .. } => (unit * n, unit),
        Collective::AllToAll => (unit * n, unit * n),
        _ => (unit, unit),
    };
    let iters = cfg.iters_for(bytes);
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = comms
            .iter()
            .zip(devices)
            .map(|(comm, dev)| {
                s.spawn(move || -> accel::Result<(f64, usize)> {
                    let r = comm.rank();
                    let input = tensors(dev, cfg.dtype, in_len, r)?;
                    let (call, out) = if in_place {
                        let buf = match collective {
                            Collective::AllGather => {
                                let b = Tensor::zeros(dev, &[out_len], cfg.dtype)?;
                                let mut bytes = b.to_bytes()?;
                                let own = input.to_bytes()?;
                                bytes[r * unit * es..(r + 1) * unit * es].copy_from_slice(&own);
                                Tensor::from_bytes(dev, &[out_len], cfg.dtype, &bytes)?
                            }
                            Collective::ReduceScatter { .. } => input.clone(),
                            _ => input.clone(),
                        };
                        (Call::in_place(collective, &buf), buf)
                    } else {
                        let out = Tensor::zeros(dev, &[out_len], cfg.dtype)?;
                        (Call::out_of_place(collective, &input, &out), out)
                    };
                    // Check once (the data is fresh), then time.
                    comm.run(call.clone())?;
                    let got = out.to_f64_vec()?;
                    let got = match collective {
                        Collective::ReduceScatter { .. } if in_place => got[r * unit..(r + 1) * unit].to_vec(),
                        _ => got,
                    };
                    let skip = matches!(collective, Collective::Reduce { root, .. } if root != r);
                    let want = expected(collective, n, r, unit);
                    let wrong = if skip { 0 } else { got.iter().zip(&want).filter(|(g, w)| g != w).count() };
                    comm.barrier()?;
                    let t = Instant::now();
                    for _ in 0..iters {
                        comm.run(call.clone())?;
                    }
                    comm.barrier()?;
                    Ok((t.elapsed().as_secs_f64() / iters as f64, wrong))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("rank thread panicked")).collect::<Vec<_>>()
    });
    let mut wrong = 0;
    let mut t0 = 0.0;
    for (r, res) in results.into_iter().enumerate() {
        let (t, w) = res?;
        wrong += w;
        if r == 0 {
            t0 = t;
        }
    }
    Ok((t0, wrong))
}

/// Runs the sweep on an in-process group; returns one row per collective and size.
pub fn run_local(cfg: &CollConfig) -> accel::Result<Vec<CollRow>> {
    let devices: Vec<Device> =
        if cfg.devices.is_empty() { (0..cfg.ranks).map(|_| accel::cpu()).collect() } else { cfg.devices.clone() };
    let n = devices.len();
    let options =
        LocalOptions { algorithm: cfg.algorithm, deterministic: cfg.deterministic, ..LocalOptions::default() };
    let comms = LocalGroup::with_options(&devices, options)?;
    let es = cfg.dtype.size();
    let mut rows = Vec::new();
    for &collective in &cfg.collectives {
        let mut bytes = cfg.min_bytes.max(es);
        while bytes <= cfg.max_bytes {
            let unit = unit_for(collective, bytes, es, n);
            let s = Call { collective, input: None, output: None };
            let _ = s;
            let size = match collective {
                Collective::AllGather | Collective::ReduceScatter { .. } | Collective::AllToAll => unit * n * es,
                _ => unit * es,
            };
            let memcpy = memcpy_gbs(size);
            let factor = bus_factor(collective, n);
            let form = |in_place| -> accel::Result<Measure> {
                let (seconds, wrong) = measure(&comms, &devices, cfg, collective, size, in_place)?;
                let algbw = size as f64 / seconds / 1e9;
                Ok(Measure { seconds, algbw, busbw: algbw * factor, wrong })
            };
            let out_of_place = form(false)?;
            let in_place = form(true)?;
            rows.push(CollRow {
                collective: collective.name(),
                op: collective.reduce_op(),
                root: collective.root(),
                bytes: size,
                count: unit,
                out_of_place,
                in_place,
                memcpy_gbs: memcpy,
            });
            bytes = bytes.saturating_mul(cfg.factor.max(2));
        }
    }
    Ok(rows)
}

/// The nccl-tests-style table of `rows`.
pub fn table(rows: &[CollRow], dtype: DType, ranks: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# ranks {ranks}, dtype {dtype}; GB = 1e9 B; memcpy = host copy of S bytes on one thread, same run\n\
         #  collective        size(B)      count  redop root |  out-of-place: time(us) algbw busbw #wrong |     in-place: time(us) algbw busbw #wrong | memcpy GB/s busbw/memcpy"
    );
    for r in rows {
        let op = r.op.map_or("-", |o| o.name());
        let root = r.root.map_or("-".to_string(), |x| x.to_string());
        let m = |m: &Measure| format!("{:>12.1} {:>6.2} {:>6.2} {:>5}", m.seconds * 1e6, m.algbw, m.busbw, m.wrong);
        let _ = writeln!(
            s,
            "{:>14} {:>14} {:>10} {:>6} {:>4} | {} | {} | {:>10.2} {:>6.0}%",
            r.collective,
            r.bytes,
            r.count,
            op,
            root,
            m(&r.out_of_place),
            m(&r.in_place),
            r.memcpy_gbs,
            100.0 * r.out_of_place.busbw.max(r.in_place.busbw) / r.memcpy_gbs
        );
    }
    s
}
