//! The model both data-parallel training examples share (in-process `dp_training` here and
//! MPI `backends/mpi/examples/dp_training.rs`, which includes this file by path): a small MLP
//! y = W2ᵀ·relu(W1ᵀ·x + b1) + b2 trained with mean-squared error against a fixed random
//! "teacher" MLP on synthetic inputs. Matmuls run on the device; the small elementwise parts
//! (bias, ReLU mask, loss) on the host. Written against `accel_core` so both crates build it.

use accel_core::ops::matmul;
use accel_core::{Device, Result, Tensor};

pub(crate) const D: usize = 16; // inputs
pub(crate) const H: usize = 32; // hidden units
pub(crate) const BATCH: usize = 64; // global batch
pub(crate) const STEPS: usize = 30;
pub(crate) const LR: f32 = 0.05;

/// A deterministic stream of uniform values in [-1, 1).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }
}

/// Parameters, flattened in one vector (one all-reduce for all gradients).
#[derive(Clone)]
pub(crate) struct Mlp {
    p: Vec<f32>,
}
const W1: usize = D * H;
const B1: usize = W1 + H;
const W2: usize = B1 + H;
pub(crate) const NP: usize = W2 + 1;

impl Mlp {
    pub(crate) fn new(seed: u64) -> Mlp {
        let mut r = Rng(seed);
        let mut p = r.vec(NP, 0.5);
        p[W1..B1].fill(0.0);
        Mlp { p }
    }

    /// Loss summed over `x`'s rows (divided by `total` rows) and its gradient.
    pub(crate) fn loss_grad(&self, dev: &Device, x: &[f32], t: &[f32], total: usize) -> Result<(f32, Vec<f32>)> {
        let b = t.len();
        let xt = Tensor::from_slice(dev, &[b, D], x)?;
        let w1 = Tensor::from_slice(dev, &[D, H], &self.p[..W1])?;
        let z1 = matmul(&xt, &w1)?.to_vec::<f32>()?;
        let z1: Vec<f32> = z1.iter().enumerate().map(|(i, z)| z + self.p[W1 + i % H]).collect();
        let h: Vec<f32> = z1.iter().map(|&z| z.max(0.0)).collect();
        let ht = Tensor::from_slice(dev, &[b, H], &h)?;
        let w2 = Tensor::from_slice(dev, &[H, 1], &self.p[B1..W2])?;
        let y = matmul(&ht, &w2)?.to_vec::<f32>()?;
        let dy: Vec<f32> = y.iter().zip(t).map(|(y, t)| 2.0 * (y + self.p[W2] - t) / total as f32).collect();
        let loss = y.iter().zip(t).map(|(y, t)| (y + self.p[W2] - t).powi(2)).sum::<f32>() / total as f32;
        let mut g = vec![0f32; NP];
        let dyt = Tensor::from_slice(dev, &[b, 1], &dy)?;
        g[B1..W2].copy_from_slice(&matmul(&ht.t()?, &dyt)?.to_vec::<f32>()?);
        g[W2] = dy.iter().sum();
        let dh = matmul(&dyt, &w2.t()?)?.to_vec::<f32>()?;
        let dz: Vec<f32> = dh.iter().zip(&z1).map(|(d, &z)| if z > 0.0 { *d } else { 0.0 }).collect();
        for (i, d) in dz.iter().enumerate() {
            g[W1 + i % H] += d;
        }
        let dzt = Tensor::from_slice(dev, &[b, H], &dz)?;
        g[..W1].copy_from_slice(&matmul(&xt.t()?, &dzt)?.to_vec::<f32>()?);
        Ok((loss, g))
    }

    pub(crate) fn step(&mut self, g: &[f32]) {
        self.p.iter_mut().zip(g).for_each(|(p, g)| *p -= LR * g);
    }
}

/// The synthetic data set: batch `s` of inputs and the teacher's targets.
pub(crate) fn batch(s: usize, teacher: &Mlp) -> (Vec<f32>, Vec<f32>) {
    let x = Rng(1000 + s as u64).vec(BATCH * D, 1.0);
    let t = (0..BATCH)
        .map(|i| {
            let xi = &x[i * D..(i + 1) * D];
            let h = (0..H).map(|j| (0..D).map(|k| xi[k] * teacher.p[k * H + j]).sum::<f32>().max(0.0));
            h.zip(&teacher.p[B1..W2]).map(|(h, w)| h * w).sum::<f32>()
        })
        .collect();
    (x, t)
}

/// Single-device training on the whole batch: the reference curve.
pub(crate) fn single(dev: &Device, teacher: &Mlp) -> Result<Vec<f32>> {
    let mut m = Mlp::new(7);
    let mut curve = Vec::new();
    for s in 0..STEPS {
        let (x, t) = batch(s, teacher);
        let (loss, g) = m.loss_grad(dev, &x, &t, BATCH)?;
        m.step(&g);
        curve.push(loss);
    }
    Ok(curve)
}

/// Checks a data-parallel loss curve against the single-device one: within 1e-4 (relative)
/// at every step (only the batch's summation order differs), and falling by half.
pub(crate) fn compare(reference: &[f32], dp: &[f32]) -> std::result::Result<(), String> {
    for (s, (a, b)) in reference.iter().zip(dp).enumerate() {
        if (a - b).abs() > 1e-4 * a.abs().max(1e-3) {
            return Err(format!("step {s}: single-device loss {a}, data-parallel {b}"));
        }
    }
    match (dp.first(), dp.last()) {
        (Some(first), Some(last)) if last < &(0.5 * first) => Ok(()),
        _ => Err(format!("the loss did not fall by half: {:?} -> {:?}", dp.first(), dp.last())),
    }
}
