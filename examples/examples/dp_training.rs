//! Data-parallel training of a small MLP across 4 emulated NPUs in one process.
//!
//! Each rank (one thread per device, `LocalGroup`) holds a replica of the model and a quarter
//! of every global batch; after the backward pass the gradients are summed with one
//! all-reduce, so every replica takes the same step as one device training on the whole
//! batch. The run asserts that the loss curve matches single-device training within float
//! tolerance (only the summation order of the batch differs).
//!
//! `cargo run --release -p accel-examples --example dp_training`
//!
//! The model and data (`examples/shared/dp_mlp.rs`) are shared with the MPI version,
//! `backends/mpi/examples/dp_training.rs`.

#[path = "../shared/dp_mlp.rs"]
mod dp_mlp;

use accel::comm::{Communicator, LocalGroup, ReduceOp};
use accel::{Device, Result, Tensor};
use dp_mlp::{BATCH, D, Mlp, NP, STEPS, batch, compare, single};

const RANKS: usize = 4;

/// Data-parallel training: rank r takes rows [r·B/n, (r+1)·B/n) of each batch.
fn parallel(devices: &[Device], teacher: &Mlp) -> Result<Vec<f32>> {
    let comms = LocalGroup::new(devices)?;
    let per = BATCH / devices.len();
    let curves: Vec<Result<Vec<f32>>> = std::thread::scope(|s| {
        let handles: Vec<_> = comms
            .iter()
            .zip(devices)
            .map(|(comm, dev)| {
                s.spawn(move || -> Result<Vec<f32>> {
                    let r = comm.rank();
                    let mut m = Mlp::new(7);
                    let mut curve = Vec::new();
                    for s in 0..STEPS {
                        let (x, t) = batch(s, teacher);
                        let (loss, g) =
                            m.loss_grad(dev, &x[r * per * D..(r + 1) * per * D], &t[r * per..(r + 1) * per], BATCH)?;
                        // one all-reduce for the gradients and the loss
                        let mut flat = g;
                        flat.push(loss);
                        let gt = Tensor::from_slice(dev, &[NP + 1], &flat)?;
                        comm.all_reduce_in_place(&gt, ReduceOp::Sum)?;
                        let summed = gt.to_vec::<f32>()?;
                        m.step(&summed[..NP]);
                        curve.push(summed[NP]);
                    }
                    Ok(curve)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("rank thread panicked")).collect()
    });
    let mut curves = curves.into_iter().collect::<Result<Vec<_>>>()?;
    // every replica saw the same summed loss
    assert!(curves.windows(2).all(|w| w[0] == w[1]), "ranks disagree on the loss");
    Ok(curves.swap_remove(0))
}

fn run() -> Result<(Vec<f32>, Vec<f32>)> {
    // scalesim-32x32: a 32×32 systolic array whose PEs take fp32 (tpu-v1 is int8-only).
    let npu = |_| accel::emu::device("scalesim-32x32");
    let devices: Vec<Device> = (0..RANKS).map(npu).collect::<Result<_>>()?;
    let teacher = Mlp::new(99);
    let reference = single(&npu(0)?, &teacher)?;
    let dp = parallel(&devices, &teacher)?;
    Ok((reference, dp))
}

fn check(reference: &[f32], dp: &[f32]) {
    if let Err(e) = compare(reference, dp) {
        panic!("{e}");
    }
}

fn main() -> Result<()> {
    let (reference, dp) = run()?;
    println!("step  single-device  {RANKS} emulated NPUs (data-parallel)");
    for (s, (a, b)) in reference.iter().zip(&dp).enumerate() {
        println!("{s:>4}  {a:>13.6}  {b:>13.6}");
    }
    check(&reference, &dp);
    println!("loss curves match within 1e-4 (relative)");
    Ok(())
}

#[test]
fn data_parallel_matches_single_device() {
    let (reference, dp) = run().expect("training runs");
    check(&reference, &dp);
}
