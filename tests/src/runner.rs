//! The conformance runner: one libtest-mimic trial per device × op × dtype × case, capability
//! handling, and a per-family summary.
//!
//! Rules (DESIGN.md §1, §8):
//! - a trial whose (op kind, dtype) the device reports as [`Support::Unsupported`] is marked
//!   ignored, so it is listed but never counted as passed;
//! - a device that claims support and then returns `Error::Unsupported` fails the trial;
//! - a panic in the device, the oracle or the case fails the trial with the panic message;
//! - every failure names the case, device, dtype and seed.

use crate::check::CheckError;
use crate::rng::seed_for;
use accel::backend::Support;
use accel::{DType, Device, OpKind};
use libtest_mimic::{Arguments, Conclusion, Failed, Trial};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

/// What a trial tests: its name parts and the capability it needs.
#[derive(Debug, Clone)]
pub struct TrialSpec {
    /// Summary group (`matmul`, `conv`, `epilogue`, `unary`, `binary`, `cast`, `reduce`,
    /// `softmax`).
    pub family: &'static str,
    /// Op segment of the name (`matmul`, `conv2d`, `unary.exp`, ...).
    pub op: String,
    /// Dtype segment of the name (`f32`, `u8xi8`, `f16->i8`, ...).
    pub dtype_label: String,
    /// Case name from the table.
    pub case: String,
    /// Capability key: op kind.
    pub kind: OpKind,
    /// Capability key: the op's main dtype (as `Op::dtype` reports it).
    pub dtype: DType,
}

impl TrialSpec {
    /// The device-independent part of the name, `op/dtype/case`; seeds derive from it, so
    /// every device sees the same data.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.op, self.dtype_label, self.case)
    }

    /// Seed of this case's data.
    pub fn seed(&self) -> u64 {
        seed_for(&self.key())
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    passed: usize,
    failed: usize,
    ignored: usize,
}

type Tally = Arc<Mutex<BTreeMap<(String, &'static str), Counts>>>;

/// A set of trials under construction. See the module docs.
#[derive(Default)]
pub struct Suite {
    trials: Vec<Trial>,
    groups: Vec<(String, &'static str)>,
    tally: Tally,
}

fn bump(tally: &Tally, key: &(String, &'static str), f: impl FnOnce(&mut Counts)) {
    let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
    f(t.entry(key.clone()).or_default());
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic payload)".into())
}

impl Suite {
    /// An empty suite.
    pub fn new() -> Suite {
        Suite::default()
    }

    /// Number of trials added so far.
    pub fn len(&self) -> usize {
        self.trials.len()
    }

    /// True when no trial was added.
    pub fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }

    /// Adds the trial `[device] op/dtype/case`. `body` gets the device and the case's seed
    /// and returns the comparison's outcome (usually from
    /// [`crate::check::check_against_reference`]).
    pub fn add<F>(&mut self, device: &Device, spec: TrialSpec, body: F)
    where
        F: FnOnce(&Device, u64) -> Result<(), CheckError> + Send + 'static,
    {
        let name = format!("[{}] {}", device.name(), spec.key());
        let support = device.supports(spec.kind, spec.dtype);
        let group = (device.name().to_string(), spec.family);
        let (tally, key, dev) = (self.tally.clone(), group.clone(), device.clone());
        let trial = Trial::test(name, move || {
            let seed = spec.seed();
            let outcome = catch_unwind(AssertUnwindSafe(|| body(&dev, seed)));
            let context = format!(
                "case {} on device {} (dtype {}, seed {seed:#018x}, capability {support:?})",
                spec.key(),
                dev.name(),
                spec.dtype_label
            );
            let result = match outcome {
                Ok(Ok(())) => Ok(()),
                Ok(Err(CheckError::Unsupported(e))) if support == Support::Unsupported => Err(format!(
                    "{context}: not supported ({e}); the trial is ignored unless --include-ignored is given"
                )),
                Ok(Err(CheckError::Unsupported(e))) => Err(format!(
                    "{context}: the device claims {support:?} support for ({}, {}) but returned Unsupported: {e}",
                    spec.kind.name(),
                    spec.dtype
                )),
                Ok(Err(e)) => Err(format!("{context}: {e}")),
                Err(payload) => Err(format!("{context}: panicked: {}", panic_message(&*payload))),
            };
            bump(&tally, &key, |c| if result.is_ok() { c.passed += 1 } else { c.failed += 1 });
            result.map_err(Failed::from)
        })
        .with_ignored_flag(support == Support::Unsupported);
        self.trials.push(trial);
        self.groups.push(group);
    }

    /// Runs the trials libtest-mimic's `args` select, prints a passed/failed/ignored summary
    /// per device and family, and returns the conclusion (call `.exit()` on it).
    pub fn run(self, args: &Arguments) -> Conclusion {
        for (trial, group) in self.trials.iter().zip(&self.groups) {
            if !args.is_filtered_out(trial) && args.is_ignored(trial) {
                bump(&self.tally, group, |c| c.ignored += 1);
            }
        }
        let tally = self.tally.clone();
        let conclusion = libtest_mimic::run(args, self.trials);
        if !args.list {
            print_summary(&tally);
        }
        conclusion
    }
}

fn print_summary(tally: &Tally) {
    let t = tally.lock().unwrap_or_else(|e| e.into_inner());
    if t.is_empty() {
        return;
    }
    println!("conformance summary (passed / failed / ignored; ignored = unsupported by the device):");
    let mut total = Counts::default();
    for ((device, family), c) in t.iter() {
        println!("  {device:<12} {family:<10} {:>6} / {:>4} / {:>4}", c.passed, c.failed, c.ignored);
        total.passed += c.passed;
        total.failed += c.failed;
        total.ignored += c.ignored;
    }
    println!("  {:<12} {:<10} {:>6} / {:>4} / {:>4}", "all", "", total.passed, total.failed, total.ignored);
}

#[cfg(test)]
mod tests {
    //! Unsupported must never count as passed: a capability gap is ignored, and a device that
    //! claims support and then refuses fails.
    use super::*;
    use crate::check::check_against_reference;
    use crate::tolerance::Tolerance;
    use accel::backend::{Backend, Capabilities, DeviceInfo, DeviceKind, Operands};
    use accel::{Error, ExecReport, Op, Result, Tensor, ops};

    /// Claims native f32 matmul, supports nothing, refuses everything.
    #[derive(Debug)]
    struct Liar {
        info: DeviceInfo,
        caps: Capabilities,
    }

    impl Backend for Liar {
        type Buffer = std::sync::Mutex<Vec<u8>>;
        fn info(&self) -> &DeviceInfo {
            &self.info
        }
        fn capabilities(&self) -> &Capabilities {
            &self.caps
        }
        fn alloc(&self, bytes: usize) -> Result<Self::Buffer> {
            Ok(std::sync::Mutex::new(vec![0; bytes]))
        }
        fn write(&self, buffer: &Self::Buffer, offset: usize, data: &[u8]) -> Result<()> {
            let mut b = buffer.lock().unwrap_or_else(|e| e.into_inner());
            b[offset..offset + data.len()].copy_from_slice(data);
            Ok(())
        }
        fn read(&self, buffer: &Self::Buffer, offset: usize, out: &mut [u8]) -> Result<()> {
            let b = buffer.lock().unwrap_or_else(|e| e.into_inner());
            out.copy_from_slice(&b[offset..offset + out.len()]);
            Ok(())
        }
        fn execute(&self, op: &Op, _: Operands<'_, Self::Buffer>) -> Result<ExecReport> {
            Err(Error::Unsupported { op: op.kind().name(), dtype: op.dtype(), backend: "liar".into() })
        }
    }

    fn matmul_case(dtype: DType) -> impl Fn(&Device) -> Result<Tensor> {
        move |dev| {
            let a = Tensor::full(dev, &[2, 2], dtype, 1.0)?;
            ops::matmul(&a, &a)
        }
    }

    #[test]
    fn unsupported_is_ignored_and_refusal_fails() {
        let info = DeviceInfo {
            name: "liar".into(),
            kind: DeviceKind::Cpu,
            backend: "liar".into(),
            emulated: false,
            peak_gflops: None,
            peak_bandwidth_gbs: None,
        };
        let caps = Capabilities::new(1 << 20).with(OpKind::Matmul, DType::F32, Support::Native);
        let liar = Device::new(Liar { info, caps });
        let mut suite = Suite::new();
        for dtype in [DType::F32, DType::F16] {
            let spec = TrialSpec {
                family: "matmul",
                op: "matmul".into(),
                dtype_label: dtype.name().into(),
                case: "liar".into(),
                kind: OpKind::Matmul,
                dtype,
            };
            suite.add(&liar, spec, move |dev, _| check_against_reference(dev, Tolerance::EXACT, matmul_case(dtype)));
        }
        // The inner run's report (with its deliberate failure) goes to a file, not the CI log.
        let log = std::env::temp_dir().join(format!("accel-runner-selftest-{}.log", std::process::id()));
        let args = Arguments {
            quiet: true,
            test_threads: Some(1),
            logfile: Some(log.to_string_lossy().into_owned()),
            ..Arguments::default()
        };
        let c = suite.run(&args);
        let _ = std::fs::remove_file(&log);
        assert_eq!((c.num_passed, c.num_failed, c.num_ignored), (0, 1, 1));
    }
}
