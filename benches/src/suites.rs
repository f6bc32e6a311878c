//! The side-by-side benchmark sets of the CPU-speed targets, in one place: shape lists
//! (GEMM sizes, the distinct convolution layers of ResNet-50 and the depthwise layers of
//! MobileNet-v2) and, per suite, the runs that measure it and how its table is laid out.
//!
//! `accel-bench suite NAME` prints a suite's runs, one per line, as `bin <args>` (an
//! `accel-bench` invocation) or `ort <args>` (`scripts/onnxruntime_bench.py`);
//! `scripts/compare.sh` runs them and `accel-bench table --suite NAME` renders the results.
//! Other harnesses reuse the lists directly.

use crate::peers::Peer;
use crate::shape::{ConvShape, MatmulShape};
use std::fmt;

/// Square f32 GEMM sizes of the f32 targets (also used for bf16/f16).
pub const GEMM_SIZES: [usize; 5] = [256, 512, 1024, 2048, 4096];
/// Square int8 GEMM sizes of the int8 target.
pub const INT8_GEMM_SIZES: [usize; 3] = [1024, 2048, 4096];
/// Square small-GEMM sizes (m = n = k).
pub const SMALL_SIZES: [usize; 4] = [8, 16, 32, 64];
/// Thread counts of every suite (the machine has two cores).
pub const THREADS: [usize; 2] = [1, 2];
/// Batch sizes of the convolution suites.
pub const CONV_BATCHES: [usize; 2] = [1, 8];

/// A named convolution layer at batch 1 and how often the network uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// Short name (`res3.3x3s2` ...).
    pub name: &'static str,
    /// The layer at batch 1.
    pub shape: ConvShape,
    /// Occurrences in the network.
    pub count: usize,
}

const fn conv(c: usize, hw: usize, k: usize, r: usize, stride: usize, groups: usize) -> ConvShape {
    ConvShape { n: 1, c, h: hw, w: hw, k, r, s: r, stride, pad: r / 2, groups }
}

const fn layer(name: &'static str, shape: ConvShape, count: usize) -> Layer {
    Layer { name, shape, count }
}

/// The 23 distinct convolutions of ResNet-50 (v1.5: stride on the 3×3, 224×224 input),
/// with multiplicities summing to its 53 convolutions (downsample projections included).
pub const RESNET50: [Layer; 23] = [
    layer("conv1.7x7s2", conv(3, 224, 64, 7, 2, 1), 1),
    layer("res2.1x1.64>64", conv(64, 56, 64, 1, 1, 1), 1),
    layer("res2.3x3", conv(64, 56, 64, 3, 1, 1), 3),
    layer("res2.1x1.64>256", conv(64, 56, 256, 1, 1, 1), 4),
    layer("res2.1x1.256>64", conv(256, 56, 64, 1, 1, 1), 2),
    layer("res3.1x1.256>128", conv(256, 56, 128, 1, 1, 1), 1),
    layer("res3.3x3s2", conv(128, 56, 128, 3, 2, 1), 1),
    layer("res3.1x1.128>512", conv(128, 28, 512, 1, 1, 1), 4),
    layer("res3.down.256>512s2", conv(256, 56, 512, 1, 2, 1), 1),
    layer("res3.1x1.512>128", conv(512, 28, 128, 1, 1, 1), 3),
    layer("res3.3x3", conv(128, 28, 128, 3, 1, 1), 3),
    layer("res4.1x1.512>256", conv(512, 28, 256, 1, 1, 1), 1),
    layer("res4.3x3s2", conv(256, 28, 256, 3, 2, 1), 1),
    layer("res4.1x1.256>1024", conv(256, 14, 1024, 1, 1, 1), 6),
    layer("res4.down.512>1024s2", conv(512, 28, 1024, 1, 2, 1), 1),
    layer("res4.1x1.1024>256", conv(1024, 14, 256, 1, 1, 1), 5),
    layer("res4.3x3", conv(256, 14, 256, 3, 1, 1), 5),
    layer("res5.1x1.1024>512", conv(1024, 14, 512, 1, 1, 1), 1),
    layer("res5.3x3s2", conv(512, 14, 512, 3, 2, 1), 1),
    layer("res5.1x1.512>2048", conv(512, 7, 2048, 1, 1, 1), 3),
    layer("res5.down.1024>2048s2", conv(1024, 14, 2048, 1, 2, 1), 1),
    layer("res5.1x1.2048>512", conv(2048, 7, 512, 1, 1, 1), 2),
    layer("res5.3x3", conv(512, 7, 512, 3, 1, 1), 2),
];

/// The 10 distinct depthwise 3×3 convolutions of MobileNet-v2 (224×224 input).
pub const MOBILENET_V2_DEPTHWISE: [Layer; 10] = [
    layer("dw32@112", conv(32, 112, 32, 3, 1, 32), 1),
    layer("dw96@112s2", conv(96, 112, 96, 3, 2, 96), 1),
    layer("dw144@56", conv(144, 56, 144, 3, 1, 144), 1),
    layer("dw144@56s2", conv(144, 56, 144, 3, 2, 144), 1),
    layer("dw192@28", conv(192, 28, 192, 3, 1, 192), 2),
    layer("dw192@28s2", conv(192, 28, 192, 3, 2, 192), 1),
    layer("dw384@14", conv(384, 14, 384, 3, 1, 384), 4),
    layer("dw576@14", conv(576, 14, 576, 3, 1, 576), 2),
    layer("dw576@14s2", conv(576, 14, 576, 3, 2, 576), 1),
    layer("dw960@7", conv(960, 7, 960, 3, 1, 960), 3),
];

/// The layer name of a convolution shape at any batch, if it is a listed layer.
pub fn layer_name(shape: &ConvShape) -> Option<&'static str> {
    let one = shape.with_batch(1);
    RESNET50.iter().chain(&MOBILENET_V2_DEPTHWISE).find(|l| l.shape == one).map(|l| l.name)
}

/// Which program a run invokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `accel-bench`.
    Bin,
    /// `scripts/onnxruntime_bench.py`.
    Ort,
}

/// One command of a suite (without `--json`, which the runner adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The program.
    pub tool: Tool,
    /// Its arguments.
    pub args: Vec<String>,
    /// Threads the run uses (for filtering).
    pub threads: usize,
    /// Largest matmul dimension or conv batch (for filtering).
    pub size: usize,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tool = match self.tool {
            Tool::Bin => "bin",
            Tool::Ort => "ort",
        };
        write!(f, "{tool} {}", self.args.join(" "))
    }
}

/// Which record fields name a table's columns (the rest name its rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// The peer (and its variant).
    Peer,
    /// The dtype.
    Dtype,
    /// The epilogue.
    Epilogue,
}

/// A benchmark set and the layout of its table.
#[derive(Debug, Clone)]
pub struct Suite {
    /// Name on the command line.
    pub name: &'static str,
    /// What it measures, and the target it checks.
    pub about: &'static str,
    /// Fields that make up a column label.
    pub columns: &'static [Axis],
    /// The column under test (e.g. `accel`, `accel bf16`, `accel +bias-relu`).
    pub subject: &'static str,
    /// The column the subject is divided by; `None` means the best other column.
    pub baseline: Option<&'static str>,
    /// Whether to show the subject's GB/s (memory-bound kernels).
    pub show_gbs: bool,
    /// The runs.
    pub runs: Vec<Run>,
}

fn kernel(op: &str, dtype: &str, shape: &str, threads: usize, extra: &[&str], size: usize) -> Run {
    let mut args: Vec<String> =
        ["kernel", "--device", "cpu", "--op", op, "--dtype", dtype, "--shape", shape, "--threads"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    args.push(threads.to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    Run { tool: Tool::Bin, args, threads, size }
}

fn peer(p: Peer, dtype: &str, shape: &str, threads: usize, size: usize) -> Run {
    let args = ["peer", "--peer", p.name(), "--op", "matmul", "--dtype", dtype, "--shape", shape, "--threads"];
    let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    args.push(threads.to_string());
    Run { tool: Tool::Bin, args, threads, size }
}

fn ort(op: &str, shape: &str, threads: usize, size: usize) -> Run {
    let args = vec!["--op".into(), op.into(), "--shape".into(), shape.into(), "--threads".into(), threads.to_string()];
    Run { tool: Tool::Ort, args, threads, size }
}

/// Square matmul runs: accel in `dtypes`, `peers` in f32, and onnxruntime `ort_op` if any.
fn gemm_runs(sizes: &[usize], dtypes: &[&str], peers: &[(Peer, &str)], ort_op: Option<&str>) -> Vec<Run> {
    let mut runs = Vec::new();
    for &n in sizes {
        let shape = MatmulShape::square(n).to_string();
        for &t in &THREADS {
            runs.extend(dtypes.iter().map(|d| kernel("matmul", d, &shape, t, &[], n)));
            runs.extend(peers.iter().map(|&(p, d)| peer(p, d, &shape, t, n)));
            runs.extend(ort_op.map(|op| ort(op, &shape, t, n)));
        }
    }
    runs
}

fn conv_runs(layers: &[Layer], extra: &[&str]) -> Vec<Run> {
    let mut runs = Vec::new();
    for &batch in &CONV_BATCHES {
        for l in layers {
            let shape = l.shape.with_batch(batch).to_string();
            for &t in &THREADS {
                runs.push(kernel("conv2d", "f32", &shape, t, extra, batch));
                runs.push(ort("conv", &shape, t, batch));
            }
        }
    }
    runs
}

const F32_PEERS: [(Peer, &str); 3] = [(Peer::Gemm, "f32"), (Peer::Faer, "f32"), (Peer::Matrixmultiply, "f32")];

/// Every suite, in the order `compare.sh` runs them.
pub fn suites() -> Vec<Suite> {
    let mut epilogue = Vec::new();
    for n in [256, 1024, 2048] {
        let shape = MatmulShape::square(n).to_string();
        for &t in &THREADS {
            for dtype in ["f32", "i8"] {
                epilogue.push(kernel("matmul", dtype, &shape, t, &[], n));
                epilogue.push(kernel("matmul", dtype, &shape, t, &["--epilogue", "bias-relu"], n));
            }
        }
    }
    for l in [RESNET50[0], RESNET50[2], RESNET50[7], RESNET50[16]] {
        for &t in &THREADS {
            let shape = l.shape.to_string();
            epilogue.push(kernel("conv2d", "f32", &shape, t, &[], 1));
            epilogue.push(kernel("conv2d", "f32", &shape, t, &["--epilogue", "bias-relu"], 1));
        }
    }
    vec![
        Suite {
            name: "f32-gemm",
            about: "f32 GEMM n = 256..4096, 1 and 2 threads: accel >= 1.0x best of gemm/faer, >= 85% of peak, >= 1.0x onnxruntime",
            columns: &[Axis::Peer],
            subject: "accel",
            baseline: None,
            show_gbs: false,
            runs: gemm_runs(&GEMM_SIZES, &["f32"], &F32_PEERS, Some("matmul")),
        },
        Suite {
            name: "int8-gemm",
            about: "int8 GEMM (u8 x i8 -> i32) n = 1024..4096: accel >= 1.0x onnxruntime MatMulInteger",
            columns: &[Axis::Peer],
            subject: "accel",
            baseline: None,
            show_gbs: false,
            runs: gemm_runs(&INT8_GEMM_SIZES, &["i8"], &[], Some("matmulinteger")),
        },
        Suite {
            name: "lowp-gemm",
            about: "bf16 and f16 GEMM vs our f32: bf16 >= 1.6x accel f32 (gemm f16 for reference)",
            columns: &[Axis::Peer, Axis::Dtype],
            subject: "accel bf16",
            baseline: Some("accel f32"),
            show_gbs: false,
            runs: gemm_runs(&GEMM_SIZES, &["f32", "bf16", "f16"], &[(Peer::Gemm, "f16")], None),
        },
        Suite {
            name: "small-gemm",
            about: "small GEMM m = n = k = 8..64: accel time <= 1.2x the fastest peer (ratio >= 0.83)",
            columns: &[Axis::Peer],
            subject: "accel",
            baseline: None,
            show_gbs: false,
            runs: gemm_runs(&SMALL_SIZES, &["f32"], &F32_PEERS, Some("matmul")),
        },
        Suite {
            name: "resnet50",
            about: "conv2d f32 NCHW, the distinct ResNet-50 layers at batch 1 and 8: geomean >= 1.0x onnxruntime, no layer < 0.8x",
            columns: &[Axis::Peer],
            subject: "accel",
            baseline: None,
            show_gbs: false,
            runs: conv_runs(&RESNET50, &["--layout", "nchw"]),
        },
        Suite {
            name: "mobilenet-dw",
            about: "depthwise 3x3 conv2d f32 NCHW, MobileNet-v2 layers at batch 1 and 8: accel >= 1.0x onnxruntime",
            columns: &[Axis::Peer],
            subject: "accel",
            baseline: None,
            show_gbs: true,
            runs: conv_runs(&MOBILENET_V2_DEPTHWISE, &["--layout", "nchw"]),
        },
        Suite {
            name: "epilogue",
            about: "fused bias+ReLU vs the bare op: costs <= 5% (ratio >= 0.95)",
            columns: &[Axis::Peer, Axis::Epilogue],
            subject: "accel +bias-relu",
            baseline: Some("accel"),
            show_gbs: false,
            runs: epilogue,
        },
    ]
}

/// The suite called `name`.
pub fn suite(name: &str) -> Result<Suite, String> {
    let all = suites();
    let names: Vec<&str> = all.iter().map(|s| s.name).collect();
    let names = names.join(", ");
    all.into_iter().find(|s| s.name == name).ok_or_else(|| format!("unknown suite `{name}` (known: {names})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet50_has_53_convolutions_in_23_distinct_shapes() {
        assert_eq!(RESNET50.iter().map(|l| l.count).sum::<usize>(), 53);
        for (i, a) in RESNET50.iter().enumerate() {
            assert!(RESNET50[i + 1..].iter().all(|b| b.shape != a.shape), "{} repeated", a.name);
        }
        // The stem: 224 -> 112; the last stage ends at 7×7 with 2048 channels.
        assert_eq!(RESNET50[0].shape.out_hw(), [112, 112]);
        assert_eq!(RESNET50[19].shape.k, 2048);
        assert_eq!(RESNET50[6].shape.out_hw(), [28, 28]);
    }

    #[test]
    fn depthwise_layers_are_depthwise_and_shapes_parse_back() {
        for l in MOBILENET_V2_DEPTHWISE.iter().chain(&RESNET50) {
            assert_eq!(l.shape.is_depthwise(), l.name.starts_with("dw"), "{}", l.name);
            assert_eq!(ConvShape::parse(&l.shape.to_string()).unwrap(), l.shape);
            assert_eq!(layer_name(&l.shape.with_batch(8)), Some(l.name));
        }
    }

    #[test]
    fn suites_are_named_uniquely_and_their_subject_is_run() {
        let all = suites();
        for s in &all {
            assert_eq!(suite(s.name).unwrap().name, s.name);
            assert!(!s.runs.is_empty(), "{}", s.name);
            assert!(s.runs.iter().all(|r| THREADS.contains(&r.threads)));
        }
        assert!(suite("nope").unwrap_err().contains("f32-gemm"));
        let f32 = suite("f32-gemm").unwrap();
        assert_eq!(f32.runs.len(), GEMM_SIZES.len() * THREADS.len() * 5);
        assert_eq!(
            f32.runs[0].to_string(),
            "bin kernel --device cpu --op matmul --dtype f32 --shape 256,256,256 --threads 1"
        );
    }
}
