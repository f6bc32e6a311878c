//! Plugging your own hardware into accel: a complete `Backend` in one file.
//!
//! `MyAccel` stands in for a vendor's device. Its "device memory" is host memory behind a
//! lock and its one kernel — f32 matmul with a bias + ReLU epilogue — is a plain loop, which
//! is where a real backend calls its driver (copy to the card, launch, wait). Everything else
//! comes from accel: validation (a backend only ever sees well-formed ops), `Tensor`,
//! `Device`, profiling records, and the error contract: an op the device does not run is
//! `Error::Unsupported`, never a panic.
//!
//! To compare it with every other device: add one line to `accel::devices()` (src/lib.rs)
//! and `accel-bench run --device myaccel` benchmarks it and the conformance suite checks it;
//! or keep it out of tree and pass `Device::new(MyAccel::new())` to
//! `accel_bench::harness::run::run` from your own program.
//!
//! `cargo run --release -p accel-examples --example custom_backend`

use accel::backend::{Backend, Capabilities, DeviceInfo, DeviceKind, Operands, Support};
use accel::op::{Activation, Op};
use accel::ops::{self, Conv2dOptions, MatmulOptions};
use accel::{DType, Device, Epilogue, Error, ExecReport, OpKind, Result, Tensor};
use accel_examples::{max_errors, random_values};
use std::sync::Mutex;
use std::time::Instant;

/// Device memory: here a byte vector; on real hardware a handle to a device allocation.
#[derive(Debug)]
struct MyBuffer(Mutex<Vec<u8>>);

/// The device: what it is, what it runs.
#[derive(Debug)]
struct MyAccel {
    info: DeviceInfo,
    caps: Capabilities,
}

impl MyAccel {
    fn new() -> MyAccel {
        let info = DeviceInfo {
            name: "myaccel:0".into(),
            kind: DeviceKind::Npu,
            backend: "myaccel".into(),
            // Real hardware: figures are measured. An emulator would set true and report a
            // modeled `Cost` in `ExecReport::modeled` (see backends/emu).
            emulated: false,
            peak_gflops: None,
            peak_bandwidth_gbs: None,
        };
        // Only f32 matmul; every other (op, dtype) pair stays unsupported, so callers and the
        // conformance suite see `Error::Unsupported` instead of a wrong answer.
        let caps = Capabilities::new(1 << 30).with(OpKind::Matmul, DType::F32, Support::Native);
        MyAccel { info, caps }
    }

    fn lock<'a>(&self, b: &'a MyBuffer) -> std::sync::MutexGuard<'a, Vec<u8>> {
        b.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn f32_at(bytes: &[u8], index: usize) -> f32 {
    let i = index * 4;
    f32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]])
}

impl Backend for MyAccel {
    type Buffer = MyBuffer;

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn alloc(&self, bytes: usize) -> Result<MyBuffer> {
        Ok(MyBuffer(Mutex::new(vec![0; bytes])))
    }

    fn write(&self, buffer: &MyBuffer, offset: usize, data: &[u8]) -> Result<()> {
        // core has checked the range already.
        self.lock(buffer)[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn read(&self, buffer: &MyBuffer, offset: usize, out: &mut [u8]) -> Result<()> {
        out.copy_from_slice(&self.lock(buffer)[offset..offset + out.len()]);
        Ok(())
    }

    fn execute(&self, op: &Op, operands: Operands<'_, MyBuffer>) -> Result<ExecReport> {
        let unsupported =
            || Error::Unsupported { op: op.kind().name(), dtype: op.dtype(), backend: self.info.backend.clone() };
        let Op::Matmul(d) = op else { return Err(unsupported()) };
        // This "hardware" has a bias + ReLU epilogue and nothing else.
        let epi = &d.epilogue;
        let plain = d.alpha == 1.0 && d.beta == 0.0 && !epi.residual && epi.requant.is_none();
        if d.dtype != DType::F32 || !plain || !matches!(epi.activation, Activation::None | Activation::Relu) {
            return Err(unsupported());
        }
        // Operands as MatmulDesc documents them: a [batch.., m, k], b [batch.., k, n]
        // (broadcast already, any strides), then the bias [n]; the output [batch.., m, n].
        let (a, b) = (&operands.inputs[0], &operands.inputs[1]);
        let bias = epi.bias.then(|| &operands.inputs[2]);
        let out = &operands.output;
        // Inputs never share the output's buffer (core guarantees it), so locking each once
        // is safe; an input may appear twice (matmul(x, x)), so compare before locking.
        let a_bytes = self.lock(a.buffer).clone();
        let b_bytes = if std::ptr::eq(a.buffer, b.buffer) { a_bytes.clone() } else { self.lock(b.buffer).clone() };
        let bias_bytes = bias.map(|o| self.lock(o.buffer).clone());
        let mut dst = self.lock(out.buffer);
        let batch_dims = d.batch.len();
        for flat in 0..d.batch_count() {
            // Multi-index of this batch element.
            let mut idx = vec![0; batch_dims + 2];
            let mut rest = flat;
            for ax in (0..batch_dims).rev() {
                idx[ax] = rest % d.batch[ax];
                rest /= d.batch[ax];
            }
            for i in 0..d.m {
                for j in 0..d.n {
                    let mut acc = 0.0f32;
                    for p in 0..d.k {
                        idx[batch_dims] = i;
                        idx[batch_dims + 1] = p;
                        let x = f32_at(&a_bytes, a.view.index(&idx));
                        idx[batch_dims] = p;
                        idx[batch_dims + 1] = j;
                        acc += x * f32_at(&b_bytes, b.view.index(&idx));
                    }
                    if let (Some(o), Some(bytes)) = (bias, &bias_bytes) {
                        acc += f32_at(bytes, o.view.index(&[j]));
                    }
                    if epi.activation == Activation::Relu {
                        acc = acc.max(0.0);
                    }
                    idx[batch_dims] = i;
                    idx[batch_dims + 1] = j;
                    let at = out.view.index(&idx) * 4;
                    dst[at..at + 4].copy_from_slice(&acc.to_le_bytes());
                }
            }
        }
        // A device with its own clock would return its kernel time in `device_time`.
        Ok(ExecReport::default())
    }
}

fn main() -> Result<()> {
    let mine = Device::new(MyAccel::new());
    let cpu = accel::cpu();
    let (m, k, n) = (33, 64, 20);
    let (xs, ws, bs) = (random_values(m * k, 1), random_values(k * n, 2), random_values(n, 3));
    let run = |device: &Device| -> Result<Tensor> {
        let x = Tensor::from_slice(device, &[m, k], &xs)?;
        let w = Tensor::from_slice(device, &[k, n], &ws)?;
        let b = Tensor::from_slice(device, &[n], &bs)?;
        let epi = Epilogue::new().bias(&b).activation(Activation::Relu);
        ops::matmul_with(&x, &w, &MatmulOptions::new().epilogue(epi))
    };
    mine.set_profiling(true);
    let start = Instant::now();
    let got = run(&mine)?;
    let elapsed = start.elapsed();
    let want = run(&cpu)?;
    let (abs, rel) = max_errors(&got.to_device(&cpu)?, &want)?;
    println!(
        "{}: relu(x @ w + b) [{m}x{k}]·[{k}x{n}] in {elapsed:?}; vs cpu: max abs {abs:.2e}, rel {rel:.2e}",
        mine.name()
    );
    for r in mine.take_records() {
        println!("  profiled: {} {:?} {} flops, {} bytes, {:?}", r.op, r.shapes, r.flops, r.bytes, r.measured);
    }
    // What the device does not run is an error that says so, not a panic.
    let x = Tensor::zeros(&mine, &[1, 3, 8, 8], DType::F32)?;
    let w = Tensor::zeros(&mine, &[4, 3, 3, 3], DType::F32)?;
    match ops::conv2d(&x, &w, &Conv2dOptions::new()) {
        Err(e) => println!("  conv2d on {}: {e}", mine.name()),
        Ok(_) => println!("  conv2d ran (unexpected for this device)"),
    }
    if rel > 1e-5 {
        return Err(Error::invalid(
            "custom_backend",
            "result",
            "agreement with the cpu (rel 1e-5)",
            format!("rel {rel:.2e}"),
        ));
    }
    Ok(())
}

// `cargo test` runs the example (examples/Cargo.toml: `test = true`), so CI runs it.
#[cfg(test)]
mod tests {
    #[test]
    fn the_custom_backend_agrees_with_the_cpu() {
        assert_eq!(super::main().map_err(|e| e.to_string()), Ok(()));
    }
}
