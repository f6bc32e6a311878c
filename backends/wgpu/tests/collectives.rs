//! The in-process collectives over a group that mixes GPU (wgpu) and CPU ranks: every
//! collective, reduce ops with f32 accumulation of f16 data, in place and out of place,
//! checked exactly (small-integer inputs), and the deterministic mode's bits equal to those
//! of an all-CPU group on arbitrary floats.

mod common;

use accel_core::comm::{Communicator, LocalComm, LocalGroup, LocalOptions, ReduceOp};
use accel_core::{DType, Device, Tensor};
use common::{backend, values};

/// Ranks alternate GPU, CPU, GPU.
fn mixed(gpu: &Device) -> Vec<Device> {
    let cpu = Device::new(accel_cpu::CpuBackend::new());
    vec![gpu.clone(), cpu, gpu.clone()]
}

/// Runs `f` on one thread per rank; the failures of every rank.
fn on_ranks(
    comms: &[LocalComm],
    devs: &[Device],
    f: impl Fn(&dyn Communicator, &Device) -> Vec<String> + Sync,
) -> Vec<String> {
    std::thread::scope(|s| {
        let handles: Vec<_> = comms.iter().zip(devs).map(|(c, d)| s.spawn(|| f(c, d))).collect();
        handles.into_iter().flat_map(|h| h.join().expect("rank thread panicked")).collect()
    })
}

/// Rank `r`'s element `i`: small integers, exact in f16 and in any summation order.
fn small(r: usize, i: usize) -> f32 {
    ((r * 5 + i * 3) % 7) as f32 - 3.0
}

fn tensor(dev: &Device, dtype: DType, data: &[f32]) -> accel_core::Result<Tensor> {
    Tensor::from_bytes(dev, &[data.len()], DType::F32, bytemuck::cast_slice(data))?.cast(dtype)
}

fn f32s(t: &Tensor) -> accel_core::Result<Vec<f32>> {
    Ok(t.to_f64_vec()?.into_iter().map(|v| v as f32).collect())
}

#[test]
fn every_collective_runs_on_a_group_of_gpu_and_cpu_ranks() {
    let Some(gpu) = backend("collectives") else { return };
    let gpu = Device::new(gpu);
    let devs = mixed(&gpu);
    let n = devs.len();
    let comms = LocalGroup::new(&devs).expect("group");
    let len = 6;
    let errs = on_ranks(&comms, &devs, |comm, dev| {
        let r = comm.rank();
        let mut errs = Vec::new();
        let mut check = |what: &str, got: accel_core::Result<Vec<f32>>, want: Vec<f32>| match got {
            Ok(g) if g == want => {}
            Ok(g) => errs.push(format!("rank {r} {what}: got {g:?}, want {want:?}")),
            Err(e) => errs.push(format!("rank {r} {what}: {e}")),
        };
        let own: Vec<f32> = (0..len).map(|i| small(r, i)).collect();
        let sum: Vec<f32> = (0..len).map(|i| (0..n).map(|k| small(k, i)).sum()).collect();
        for dtype in [DType::F32, DType::F16] {
            // All-reduce, out of place and in place.
            check(
                &format!("all_reduce {dtype}"),
                (|| {
                    let out = Tensor::zeros(dev, &[len], dtype)?;
                    comm.all_reduce(&tensor(dev, dtype, &own)?, &out, ReduceOp::Sum)?;
                    f32s(&out)
                })(),
                sum.clone(),
            );
            check(
                &format!("all_reduce_in_place max {dtype}"),
                (|| {
                    let t = tensor(dev, dtype, &own)?;
                    comm.all_reduce_in_place(&t, ReduceOp::Max)?;
                    f32s(&t)
                })(),
                (0..len).map(|i| (0..n).map(|k| small(k, i)).fold(f32::MIN, f32::max)).collect(),
            );
        }
        // All-gather, broadcast from the CPU rank, reduce-scatter, reduce to a GPU rank.
        check(
            "all_gather",
            (|| {
                let out = Tensor::zeros(dev, &[len * n], DType::F32)?;
                comm.all_gather(&tensor(dev, DType::F32, &own)?, &out)?;
                f32s(&out)
            })(),
            (0..n).flat_map(|k| (0..len).map(move |i| small(k, i))).collect(),
        );
        check(
            "broadcast",
            (|| {
                let t = tensor(dev, DType::F32, &own)?;
                comm.broadcast_in_place(&t, 1)?;
                f32s(&t)
            })(),
            (0..len).map(|i| small(1, i)).collect(),
        );
        check(
            "reduce_scatter",
            (|| {
                let big: Vec<f32> = (0..len * n).map(|i| small(r, i)).collect();
                let out = Tensor::zeros(dev, &[len], DType::F32)?;
                comm.reduce_scatter(&tensor(dev, DType::F32, &big)?, &out, ReduceOp::Sum)?;
                f32s(&out)
            })(),
            (0..len).map(|i| (0..n).map(|k| small(k, r * len + i)).sum()).collect(),
        );
        let root = 2;
        let reduced = (|| {
            let out = Tensor::zeros(dev, &[len], DType::F32)?;
            comm.reduce(&tensor(dev, DType::F32, &own)?, &out, ReduceOp::Sum, root)?;
            f32s(&out)
        })();
        if r == root {
            check("reduce", reduced, sum.clone());
        } else if let Err(e) = reduced {
            errs.push(format!("rank {r} reduce: {e}"));
        }
        errs
    });
    assert!(errs.is_empty(), "{errs:#?}");
}

#[test]
fn deterministic_mode_gives_the_bits_of_an_all_cpu_group() {
    let Some(gpu) = backend("collectives") else { return };
    let gpu = Device::new(gpu);
    let options = LocalOptions { deterministic: true, ..LocalOptions::default() };
    let len = 1000;
    let run = |devs: &[Device]| -> Vec<Vec<u8>> {
        let comms = LocalGroup::with_options(devs, options.clone()).expect("group");
        let out = std::sync::Mutex::new(vec![Vec::new(); devs.len()]);
        let errs = on_ranks(&comms, devs, |comm, dev| {
            let r = comm.rank();
            let go = || -> accel_core::Result<Vec<u8>> {
                let t = tensor(dev, DType::F32, &values(len, r as u64 + 1))?;
                comm.all_reduce_in_place(&t, ReduceOp::Sum)?;
                t.to_bytes()
            };
            match go() {
                Ok(b) => {
                    out.lock().expect("no rank panicked")[r] = b;
                    vec![]
                }
                Err(e) => vec![format!("rank {r}: {e}")],
            }
        });
        assert!(errs.is_empty(), "{errs:#?}");
        out.into_inner().expect("no rank panicked")
    };
    let mixed = run(&mixed(&gpu));
    let cpu = Device::new(accel_cpu::CpuBackend::new());
    let cpu_only = run(&[cpu.clone(), cpu.clone(), cpu]);
    assert!(mixed.iter().all(|m| m == &mixed[0]), "ranks of the mixed group disagree");
    assert!(mixed[0] == cpu_only[0], "mixed and all-CPU groups give different bits");
}
