//! Multi-rank conformance of the MPI transport (run with `mpirun -n 4`): every collective ×
//! reduce op × dtype × in/out-of-place on order-independent data, checked bit-exactly; the
//! deterministic mode against `LocalGroup`'s deterministic mode on random data; send/recv;
//! mismatched calls named on every rank; bad arguments refused. Prints `N passed, M failed`
//! on rank 0 and exits non-zero (aborting the job) on any failure.

use accel_core::comm::{Communicator, LocalGroup, LocalOptions, ReduceOp};
use accel_core::{DType, Device, Error, Result, Tensor};
use accel_mpi::{MpiOptions, run};
use std::process::ExitCode;

/// Order-independent values: small integers, so every sum, product and average of up to 8
/// ranks is exact in every dtype (u8 stays non-negative; its products may wrap, as integers do).
fn value(dtype: DType, rank: usize, i: usize) -> i64 {
    let v = ((rank * 7 + i * 3) % 5) as i64;
    if dtype == DType::U8 { v } else { v - 2 }
}

fn tensor(dev: &Device, dtype: DType, vals: &[i64]) -> Result<Tensor> {
    let f: Vec<f64> = vals.iter().map(|&v| v as f64).collect();
    let t = Tensor::zeros(dev, &[vals.len()], dtype)?;
    let bytes = encode(dtype, &f);
    accel_core::comm::host::write_bytes(&t, 0, &bytes)?;
    Ok(t)
}

fn encode(dtype: DType, vals: &[f64]) -> Vec<u8> {
    let mut out = vec![0u8; vals.len() * dtype.size()];
    for (i, &v) in vals.iter().enumerate() {
        accel_core::dtype::write_f64(&mut out, dtype, i, v);
    }
    out
}

/// The exact reduction of `vals` (one per rank) as the contract defines it.
fn reduce(dtype: DType, op: ReduceOp, vals: &[i64]) -> f64 {
    let n = vals.len() as i64;
    let r = match op {
        ReduceOp::Avg if dtype.is_float() => return vals.iter().sum::<i64>() as f64 / n as f64,
        // IEEE signs: a zero product of a negative value is −0.
        ReduceOp::Prod if dtype.is_float() => return vals.iter().map(|&v| v as f64).product(),
        ReduceOp::Sum => vals.iter().sum::<i64>(),
        ReduceOp::Prod => vals.iter().product::<i64>(),
        ReduceOp::Max => *vals.iter().max().unwrap_or(&0),
        ReduceOp::Min => *vals.iter().min().unwrap_or(&0),

        ReduceOp::Avg => vals.iter().sum::<i64>() / n,
    };
    match dtype {
        DType::I8 => r as i8 as f64,
        DType::U8 => r as u8 as f64,
        DType::I32 => r as i32 as f64,
        _ => r as f64,
    }
}

struct Tally {
    rank: usize,
    passed: usize,
    failed: Vec<String>,
}

impl Tally {
    fn check(&mut self, name: String, got: Result<bool>) {
        match got {
            Ok(true) => self.passed += 1,
            Ok(false) => self.failed.push(format!("rank {}: {name}: wrong values", self.rank)),
            Err(e) => self.failed.push(format!("rank {}: {name}: {e}", self.rank)),
        }
    }
}

fn main() -> ExitCode {
    run(|mpi| {
        let dev = accel_cpu::device();
        let comm = mpi.world(&dev);
        let (rank, n) = (comm.rank(), comm.size());
        let mut t = Tally { rank, passed: 0, failed: Vec::new() };
        let len = 3 * n + 1; // not a multiple of anything convenient
        let blk = 5; // elements per rank block
        for dtype in DType::ALL {
            let mine: Vec<i64> = (0..len).map(|i| value(dtype, rank, i)).collect();
            let all = |i: usize| (0..n).map(|r| value(dtype, r, i)).collect::<Vec<_>>();
            for op in ReduceOp::ALL {
                let want: Vec<f64> = (0..len).map(|i| reduce(dtype, op, &all(i))).collect();
                let want = encode(dtype, &want);
                for in_place in [false, true] {
                    let tag = |c: &str| format!("{c}{} {op} {dtype}", if in_place { "_in_place" } else { "" });
                    // all_reduce
                    let got = (|| {
                        let x = tensor(&dev, dtype, &mine)?;
                        let out = if in_place {
                            comm.all_reduce_in_place(&x, op)?;
                            x
                        } else {
                            let o = Tensor::zeros(&dev, &[len], dtype)?;
                            comm.all_reduce(&x, &o, op)?;
                            o
                        };
                        Ok(out.to_bytes()? == want)
                    })();
                    t.check(tag("all_reduce"), got);
                    // reduce to the last rank
                    let root = n - 1;
                    let got = (|| {
                        let x = tensor(&dev, dtype, &mine)?;
                        let out = if in_place {
                            comm.reduce_in_place(&x, op, root)?;
                            x
                        } else {
                            let o = Tensor::zeros(&dev, &[len], dtype)?;
                            comm.reduce(&x, &o, op, root)?;
                            o
                        };
                        Ok(rank != root || out.to_bytes()? == want)
                    })();
                    t.check(tag("reduce"), got);
                    // reduce_scatter: n blocks of `blk`
                    let got = (|| {
                        let vals: Vec<i64> = (0..n * blk).map(|i| value(dtype, rank, i)).collect();
                        let full: Vec<f64> = (0..n * blk).map(|i| reduce(dtype, op, &all(i))).collect();
                        let want = encode(dtype, &full[rank * blk..(rank + 1) * blk]);
                        let x = tensor(&dev, dtype, &vals)?;
                        let got = if in_place {
                            comm.reduce_scatter_in_place(&x, op)?;
                            x.slice(0, rank * blk..(rank + 1) * blk)?.to_bytes()?
                        } else {
                            let o = Tensor::zeros(&dev, &[blk], dtype)?;
                            comm.reduce_scatter(&x, &o, op)?;
                            o.to_bytes()?
                        };
                        Ok(got == want)
                    })();
                    t.check(tag("reduce_scatter"), got);
                }
            }
            for in_place in [false, true] {
                let tag = |c: &str| format!("{c}{} {dtype}", if in_place { "_in_place" } else { "" });
                // all_gather: block r = rank r's values
                let gathered: Vec<i64> = (0..n).flat_map(|r| (0..blk).map(move |i| value(dtype, r, i + 1))).collect();
                let want = encode(dtype, &gathered.iter().map(|&v| v as f64).collect::<Vec<_>>());
                let got = (|| {
                    let mine: Vec<i64> = (0..blk).map(|i| value(dtype, rank, i + 1)).collect();
                    let out = if in_place {
                        let mut buf = vec![0i64; n * blk];
                        buf[rank * blk..(rank + 1) * blk].copy_from_slice(&mine);
                        let b = tensor(&dev, dtype, &buf)?;
                        comm.all_gather_in_place(&b)?;
                        b
                    } else {
                        let o = Tensor::zeros(&dev, &[n * blk], dtype)?;
                        comm.all_gather(&tensor(&dev, dtype, &mine)?, &o)?;
                        o
                    };
                    Ok(out.to_bytes()? == want)
                })();
                t.check(tag("all_gather"), got);
                // broadcast from rank 1 % n
                let root = 1 % n;
                let src: Vec<i64> = (0..len).map(|i| value(dtype, root, i)).collect();
                let want = encode(dtype, &src.iter().map(|&v| v as f64).collect::<Vec<_>>());
                let got = (|| {
                    let x = tensor(&dev, dtype, &mine)?;
                    let out = if in_place {
                        comm.broadcast_in_place(&x, root)?;
                        x
                    } else {
                        let o = Tensor::zeros(&dev, &[len], dtype)?;
                        comm.broadcast(&x, &o, root)?;
                        o
                    };
                    Ok(out.to_bytes()? == want)
                })();
                t.check(tag("broadcast"), got);
                // all_to_all: element (r, j, i) = 100 r + 10 j + i, small for i8 as r, j < 8? keep mod
                let code = |r: usize, j: usize, i: usize| {
                    ((r * 31 + j * 7 + i) % 97) as i64 - if dtype == DType::U8 { 0 } else { 48 }
                };
                let got = (|| {
                    let vals: Vec<i64> = (0..n).flat_map(|j| (0..blk).map(move |i| code(rank, j, i))).collect();
                    let want: Vec<f64> = (0..n).flat_map(|j| (0..blk).map(move |i| code(j, rank, i) as f64)).collect();
                    let x = tensor(&dev, dtype, &vals)?;
                    let out = if in_place {
                        comm.all_to_all_in_place(&x)?;
                        x
                    } else {
                        let o = Tensor::zeros(&dev, &[n * blk], dtype)?;
                        comm.all_to_all(&x, &o)?;
                        o
                    };
                    Ok(out.to_bytes()? == encode(dtype, &want))
                })();
                t.check(tag("all_to_all"), got);
            }
        }
        t.check("barrier".into(), comm.barrier().map(|()| true));
        t.check(
            "async all_reduce".into(),
            (|| {
                let x = Tensor::full(&dev, &[7], DType::F32, 1.0)?;
                comm.all_reduce_in_place_async(&x, ReduceOp::Sum)?.wait()?;
                Ok(x.to_vec::<f32>()? == vec![n as f32; 7])
            })(),
        );
        // send/recv around the ring (even ranks send first, so standard-mode sends cannot deadlock)
        if n > 1 {
            t.check(
                "send/recv ring".into(),
                (|| {
                    let (next, prev) = ((rank + 1) % n, (rank + n - 1) % n);
                    let out = Tensor::full(&dev, &[1000], DType::BF16, rank as f64)?;
                    let inp = Tensor::zeros(&dev, &[1000], DType::BF16)?;
                    if rank % 2 == 0 {
                        comm.send(&out, next)?;
                        comm.recv(&inp, prev)?;
                    } else {
                        comm.recv(&inp, prev)?;
                        comm.send(&out, next)?;
                    }
                    Ok(inp.to_f64_vec()?.iter().all(|&v| v == prev as f64))
                })(),
            );
        }
        // bad arguments: refused locally, before any rank communicates
        t.check(
            "bad root refused".into(),
            (|| {
                let x = Tensor::zeros(&dev, &[4], DType::F32)?;
                Ok(matches!(comm.broadcast_in_place(&x, n), Err(Error::InvalidArgument { .. })))
            })(),
        );
        t.check(
            "send to self refused".into(),
            (|| {
                let x = Tensor::zeros(&dev, &[4], DType::F32)?;
                Ok(comm.send(&x, rank).is_err() && comm.recv(&x, n + 3).is_err())
            })(),
        );
        deterministic(mpi, &dev, &mut t)?;
        mismatch(mpi, &dev, &mut t)?;
        let failed =
            comm.all_reduce_in_place(&Tensor::full(&dev, &[1], DType::I32, t.failed.len() as f64)?, ReduceOp::Sum);
        for f in &t.failed {
            eprintln!("FAIL {f}");
        }
        failed?;
        let passed = t.passed;
        let total_failed = {
            let x = Tensor::full(&dev, &[2], DType::I32, 0.0)?;
            accel_core::comm::host::write_bytes(&x, 0, bytemuck_pair(passed as i32, t.failed.len() as i32).as_slice())?;
            comm.all_reduce_in_place(&x, ReduceOp::Sum)?;
            x.to_vec::<i32>()?
        };
        if rank == 0 {
            println!("{} passed, {} failed ({n} ranks)", total_failed[0], total_failed[1]);
        }
        if total_failed[1] > 0 {
            return Err(Error::Backend {
                backend: "mpi".into(),
                message: format!("{} checks failed", total_failed[1]),
            });
        }
        Ok(())
    })
}

fn bytemuck_pair(a: i32, b: i32) -> Vec<u8> {
    [a.to_le_bytes(), b.to_le_bytes()].concat()
}

/// Random values in [-10, 10) with low-order bits set, so the order of a sum matters.
fn noisy(r: usize, len: usize) -> Vec<f64> {
    let mut s = (r as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 20001) as f64 / 1000.0 - 10.0 + (s >> 40) as f64 * 1e-9
        })
        .collect()
}

/// Deterministic mode: random f32/bf16/f16 data (order matters), compared bit for bit with
/// `LocalGroup`'s deterministic mode run by rank 0 on the same inputs, at a small size and
/// at one past several of `LocalGroup`'s blocks (so its block loop and algorithm choice are
/// crossed).
fn deterministic(mpi: &accel_mpi::Mpi, dev: &Device, t: &mut Tally) -> Result<()> {
    let comm = mpi.communicator(dev, MpiOptions { deterministic: true, ..MpiOptions::default() });
    let (rank, n) = (comm.rank(), comm.size());
    for len in [1000, (1 << 18) + 3] {
        for dtype in [DType::F32, DType::BF16, DType::F16] {
            for op in [ReduceOp::Sum, ReduceOp::Avg] {
                let x = Tensor::zeros(dev, &[len], dtype)?;
                accel_core::comm::host::write_bytes(&x, 0, &encode_round(dtype, &noisy(rank, len)))?;
                comm.all_reduce_in_place(&x, op)?;
                let got = x.to_bytes()?;
                let ok = if rank == 0 {
                    let devs: Vec<Device> = (0..n).map(|_| accel_cpu::device()).collect();
                    let opts = LocalOptions { deterministic: true, ..LocalOptions::default() };
                    let comms = LocalGroup::with_options(&devs, opts)?;
                    let outs: Vec<Result<Vec<u8>>> = std::thread::scope(|s| {
                        let hs: Vec<_> = comms
                            .iter()
                            .enumerate()
                            .map(|(r, c)| {
                                let dev = &devs[r];
                                s.spawn(move || -> Result<Vec<u8>> {
                                    let x = Tensor::zeros(dev, &[len], dtype)?;
                                    accel_core::comm::host::write_bytes(&x, 0, &encode_round(dtype, &noisy(r, len)))?;
                                    c.all_reduce_in_place(&x, op)?;
                                    x.to_bytes()
                                })
                            })
                            .collect();
                        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new()))).collect()
                    });
                    outs.into_iter().next().transpose()?.is_some_and(|local| local == got)
                } else {
                    true
                };
                t.check(format!("deterministic all_reduce {op} {dtype} len {len} == LocalGroup deterministic"), Ok(ok));
            }
        }
    }
    Ok(())
}

fn encode_round(dtype: DType, v: &[f64]) -> Vec<u8> {
    encode(dtype, v)
}

/// Rank 1 calls a different dtype: every rank gets a mismatch naming a rank, nobody hangs,
/// and the communicator refuses later calls.
fn mismatch(mpi: &accel_mpi::Mpi, dev: &Device, t: &mut Tally) -> Result<()> {
    let comm = mpi.world(dev);
    let (rank, n) = (comm.rank(), comm.size());
    if n < 2 {
        return Ok(());
    }
    let dtype = if rank == 1 { DType::I32 } else { DType::F32 };
    let x = Tensor::zeros(dev, &[8], dtype)?;
    let r = comm.all_reduce_in_place(&x, ReduceOp::Sum);
    let named = match &r {
        Err(Error::CommMismatch { other_rank, .. }) => *other_rank == if rank == 1 { 0 } else { 1 },
        _ => false,
    };
    if !named {
        eprintln!("rank {rank}: mismatch gave {r:?}");
    }
    t.check("mismatched dtype named on every rank".into(), Ok(named));
    let later = comm.barrier();
    t.check("aborted communicator refuses later calls".into(), Ok(matches!(later, Err(Error::CommAborted { .. }))));
    Ok(())
}
