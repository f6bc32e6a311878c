//! The harness's workload suites: named lists of [`Item`]s (a [`Case`] with the layer or
//! projection it stands for and how often a network runs it).
//!
//! Shapes come from the published models: ResNet-50 and MobileNet-v2 from
//! [`crate::suites`] (the CPU-speed suites share them), BERT-base (seq 128, d 768, FFN 3072,
//! 12 layers), a GPT-2-medium-sized decoder block for the transformer projections (seq 512,
//! d 1024, FFN 4096) and a 7B-class decoder (d 4096, FFN 11008) for LLM decode GEMVs.

use crate::shape::{ConvShape, MatmulShape};
use crate::suites::{Layer, MOBILENET_V2_DEPTHWISE, RESNET50};
use crate::workload::{BenchDType, Case, Workload};

/// One workload of a suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// What it belongs to (`resnet50-b8`, `bert-base`, `gemm`): a network's layers share one.
    pub group: String,
    /// The layer or projection (`res3.3x3s2`, `ffn.up`, `n=512`).
    pub label: String,
    /// Op, shape and dtype.
    pub case: Case,
    /// How often one pass of the group's network runs it (1 for sweeps).
    pub count: usize,
}

impl Item {
    fn new(group: &str, label: impl Into<String>, case: Case, count: usize) -> Item {
        Item { group: group.to_string(), label: label.into(), case, count }
    }

    fn matmul(group: &str, label: impl Into<String>, m: usize, n: usize, k: usize, dtype: BenchDType) -> Item {
        Item::new(group, label, Case::new(Workload::Matmul(MatmulShape { m, n, k }), dtype), 1)
    }

    fn conv(group: &str, layer: &Layer, batch: usize, dtype: BenchDType) -> Item {
        Item::new(group, layer.name, Case::new(Workload::Conv2d(layer.shape.with_batch(batch)), dtype), layer.count)
    }

    /// `group/label`; with the dtype, unique within a suite.
    pub fn key(&self) -> String {
        format!("{}/{}", self.group, self.label)
    }
}

/// A named list of items.
#[derive(Debug, Clone, PartialEq)]
pub struct HarnessSuite {
    /// Name on the command line.
    pub name: &'static str,
    /// What it measures.
    pub about: &'static str,
    /// The workloads, in run order.
    pub items: Vec<Item>,
}

/// Suites named here but not runnable in this build, with the reason (`list` shows them,
/// `run --suite` names the reason): the place for a suite whose backend has not landed.
pub const PENDING: &[(&str, &str)] = &[];

/// The collectives suite: not a list of [`Item`]s (its sizes and ranks are the collectives
/// benchmark's), run by [`super::comm`] through `accel-bench run --suite collectives`.
pub const COLLECTIVES: (&str, &str) = (
    "collectives",
    "all-reduce / all-gather / reduce-scatter, 4 KiB .. 16 MiB, 2 in-process ranks per measured device (nccl-tests algbw/busbw)",
);

/// The default suite: one or two items of every family, sized so every registered device
/// runs it in well under two minutes on two cores.
pub const DEFAULT_SUITE: &str = "quick";

/// Square GEMM sizes of the sweep.
pub const GEMM_SWEEP: [usize; 6] = [64, 128, 256, 512, 1024, 2048];
/// Square int8 GEMM sizes.
pub const INT8_SWEEP: [usize; 4] = [256, 512, 1024, 2048];
/// Decode batch sizes (tokens in flight) of the LLM GEMV suite.
pub const DECODE_BATCHES: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

/// BERT-base encoder layer GEMMs at sequence length 128: (name, n, k); 12 layers.
const BERT: [(&str, usize, usize); 4] =
    [("qkv", 2304, 768), ("attn.out", 768, 768), ("ffn.up", 3072, 768), ("ffn.down", 768, 3072)];
/// Transformer block projections (GPT-2-medium sized) at sequence length 512: (name, n, k).
const TRANSFORMER: [(&str, usize, usize); 4] =
    [("qkv", 3072, 1024), ("attn.out", 1024, 1024), ("ffn.up", 4096, 1024), ("ffn.down", 1024, 4096)];
/// 7B-class decoder projections: (name, n, k).
const DECODE: [(&str, usize, usize); 3] = [("qkv", 12288, 4096), ("ffn.up", 11008, 4096), ("ffn.down", 4096, 11008)];

fn gemm_sweep(sizes: &[usize], group: &str, dtype: BenchDType) -> Vec<Item> {
    sizes.iter().map(|&n| Item::matmul(group, format!("n={n}"), n, n, n, dtype)).collect()
}

fn bert(dtype: BenchDType) -> Vec<Item> {
    BERT.iter().map(|&(name, n, k)| Item { count: 12, ..Item::matmul("bert-base", name, 128, n, k, dtype) }).collect()
}

fn transformer() -> Vec<Item> {
    TRANSFORMER.iter().map(|&(name, n, k)| Item::matmul("gpt2-medium.s512", name, 512, n, k, BenchDType::F32)).collect()
}

fn decode(batches: &[usize], projections: &[(&str, usize, usize)]) -> Vec<Item> {
    let mut items = Vec::new();
    for &b in batches {
        for &(name, n, k) in projections {
            items.push(Item::matmul(&format!("decode.b{b}"), name, b, n, k, BenchDType::F32));
        }
    }
    items
}

fn convs(layers: &[Layer], group: &str, batch: usize) -> Vec<Item> {
    layers.iter().map(|l| Item::conv(group, l, batch, BenchDType::F32)).collect()
}

fn find(layers: &[Layer], name: &str) -> Layer {
    layers.iter().copied().find(|l| l.name == name).unwrap_or(layers[0])
}

/// Every runnable suite.
pub fn suites() -> Vec<HarnessSuite> {
    let resnet = [convs(&RESNET50, "resnet50-b1", 1), convs(&RESNET50, "resnet50-b8", 8)].concat();
    let mobilenet = [
        convs(&MOBILENET_V2_DEPTHWISE, "mobilenet-v2-dw-b1", 1),
        convs(&MOBILENET_V2_DEPTHWISE, "mobilenet-v2-dw-b8", 8),
    ]
    .concat();
    // The quick suite mixes dtypes so every kind of device runs part of it: the NPUs and
    // crossbars are int8 machines, HBM-PIM computes in f16, AiM in bf16.
    let mut quick = gemm_sweep(&[256, 512], "gemm", BenchDType::F32);
    quick.extend(gemm_sweep(&[512], "int8-gemm", BenchDType::I8));
    for dtype in [BenchDType::F16, BenchDType::Bf16] {
        for b in [1, 16] {
            quick.push(Item::matmul(&format!("decode.b{b}"), "proj", b, 2048, 2048, dtype));
        }
    }
    quick.push(Item { count: 12, ..Item::matmul("bert-base", "ffn.up", 128, 3072, 768, BenchDType::F32) });
    for name in ["res3.3x3", "res4.1x1.1024>256"] {
        for dtype in [BenchDType::F32, BenchDType::I8] {
            quick.push(Item::conv("resnet50-b1", &find(&RESNET50, name), 1, dtype));
        }
    }
    quick.push(Item::conv("mobilenet-v2-dw-b1", &find(&MOBILENET_V2_DEPTHWISE, "dw144@56"), 1, BenchDType::I8));
    let all: Vec<Item> = [
        gemm_sweep(&GEMM_SWEEP, "gemm", BenchDType::F32),
        transformer(),
        decode(&DECODE_BATCHES, &DECODE),
        gemm_sweep(&INT8_SWEEP, "int8-gemm", BenchDType::I8),
        resnet.clone(),
        mobilenet.clone(),
        bert(BenchDType::F32),
    ]
    .concat();
    let small = |label: &str, shape: ConvShape| {
        Item::new("smoke", label, Case::new(Workload::Conv2d(shape), BenchDType::F32), 1)
    };
    let mut smoke = gemm_sweep(&[64], "smoke", BenchDType::F32);
    smoke.push(Item::matmul("smoke", "int8 n=64", 64, 64, 64, BenchDType::I8));
    smoke.push(small(
        "conv3x3",
        ConvShape { n: 1, c: 16, h: 14, w: 14, k: 16, r: 3, s: 3, stride: 1, pad: 1, groups: 1 },
    ));
    smoke.push(small(
        "dw3x3",
        ConvShape { n: 1, c: 32, h: 14, w: 14, k: 32, r: 3, s: 3, stride: 1, pad: 1, groups: 32 },
    ));
    vec![
        HarnessSuite {
            name: "quick",
            about: "default: GEMM 256/512 f32, int8 GEMM 512, decode GEMV b1/b16 f16 and bf16, a BERT GEMM, two ResNet-50 layers f32 and int8, an int8 depthwise layer",
            items: quick,
        },
        HarnessSuite {
            name: "gemm",
            about: "square f32 GEMM sweep n = 64 .. 2048",
            items: gemm_sweep(&GEMM_SWEEP, "gemm", BenchDType::F32),
        },
        HarnessSuite {
            name: "transformer",
            about: "transformer block projections (d 1024, FFN 4096) at sequence 512",
            items: transformer(),
        },
        HarnessSuite {
            name: "llm-decode",
            about: "7B-class decoder GEMVs (d 4096, FFN 11008) at decode batch 1 .. 64",
            items: decode(&DECODE_BATCHES, &DECODE),
        },
        HarnessSuite {
            name: "int8-gemm",
            about: "square int8 GEMM (u8 x i8 -> i32) n = 256 .. 2048",
            items: gemm_sweep(&INT8_SWEEP, "int8-gemm", BenchDType::I8),
        },
        HarnessSuite {
            name: "resnet50",
            about: "the 23 distinct ResNet-50 convolutions (53 in all) at batch 1 and 8",
            items: resnet,
        },
        HarnessSuite {
            name: "mobilenet-dw",
            about: "the 10 distinct MobileNet-v2 depthwise 3x3 convolutions at batch 1 and 8",
            items: mobilenet,
        },
        HarnessSuite {
            name: "bert",
            about: "BERT-base encoder layer GEMMs at sequence 128 (x12 layers)",
            items: bert(BenchDType::F32),
        },
        HarnessSuite { name: "smoke", about: "four tiny items: checks that every device runs (seconds)", items: smoke },
        HarnessSuite { name: "all", about: "every suite above except quick and smoke", items: all },
    ]
}

/// The suite called `name`; the error lists the known ones (and says why a pending one is
/// not available).
pub fn suite(name: &str) -> Result<HarnessSuite, String> {
    let all = suites();
    if let Some(s) = all.iter().find(|s| s.name == name) {
        return Ok(s.clone());
    }
    if let Some((_, why)) = PENDING.iter().find(|(n, _)| *n == name) {
        return Err(format!("suite `{name}` is not available in this build ({why})"));
    }
    if name == COLLECTIVES.0 {
        return Err(format!("suite `{name}` runs with `accel-bench run` only (it has no shapes to cost)"));
    }
    let names: Vec<&str> = all.iter().map(|s| s.name).collect();
    Err(format!("unknown suite `{name}` (known: {})", names.join(", ")))
}

/// Applies `--dtype`: float items take a float dtype (int8 items are dropped); `i8` turns
/// every item into its u8 × i8 → i32 form. Items that become the same (one layer listed in
/// two dtypes) are kept once. `None` keeps the suite's own dtypes.
pub fn with_dtype(items: Vec<Item>, dtype: Option<BenchDType>) -> Vec<Item> {
    let Some(dtype) = dtype else { return items };
    let mut out: Vec<Item> = Vec::new();
    for mut it in items.into_iter().filter(|it| dtype == BenchDType::I8 || it.case.dtype != BenchDType::I8) {
        it.case.dtype = dtype;
        if !out.iter().any(|o| o.key() == it.key()) {
            out.push(it);
        }
    }
    out
}

/// Groups whose items are sweeps (sizes of one op), not layers of one network.
pub const SWEEP_GROUPS: [&str; 3] = ["gemm", "int8-gemm", "smoke"];

/// True when a group's items are the layers of one network (their times add up).
pub fn is_network(group: &str) -> bool {
    !SWEEP_GROUPS.contains(&group)
}

/// A convolution item's shape (for the cost-only path).
pub fn conv_shape(item: &Item) -> Option<ConvShape> {
    match item.case.workload {
        Workload::Conv2d(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_have_unique_names_and_keys() {
        let all = suites();
        for (i, s) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|t| t.name != s.name), "{}", s.name);
            assert!(!s.items.is_empty(), "{}", s.name);
            for (j, it) in s.items.iter().enumerate() {
                let same = |o: &Item| o.key() == it.key() && o.case.dtype == it.case.dtype;
                assert!(!s.items[j + 1..].iter().any(same), "{}: {}", s.name, it.key());
            }
        }
        assert_eq!(suite(DEFAULT_SUITE).unwrap().name, "quick");
    }

    #[test]
    fn network_suites_cover_their_models() {
        let resnet = suite("resnet50").unwrap();
        assert_eq!(resnet.items.len(), 46);
        let b8: usize = resnet.items.iter().filter(|i| i.group == "resnet50-b8").map(|i| i.count).sum();
        assert_eq!(b8, 53);
        let decode = suite("llm-decode").unwrap();
        assert_eq!(decode.items.len(), DECODE_BATCHES.len() * DECODE.len());
        assert!(
            decode.items.iter().any(|i| i.case.workload == Workload::Matmul(MatmulShape { m: 64, n: 11008, k: 4096 }))
        );
        let bert = suite("bert").unwrap();
        assert!(bert.items.iter().all(|i| i.count == 12));
    }

    #[test]
    fn unknown_and_pending_suites_are_errors() {
        let e = suite("nope").unwrap_err();
        assert!(e.contains("unknown suite `nope`") && e.contains("resnet50"), "{e}");
        let e = suite("collectives").unwrap_err();
        assert!(e.contains("`accel-bench run` only"), "{e}");
    }

    #[test]
    fn dtype_retypes_float_items_and_drops_int8_ones() {
        let items = suite("quick").unwrap().items;
        let keys = |v: &[Item]| {
            let mut k: Vec<String> = Vec::new();
            for key in v.iter().map(Item::key) {
                if !k.contains(&key) {
                    k.push(key);
                }
            }
            k
        };
        let bf16 = with_dtype(items.clone(), Some(BenchDType::Bf16));
        assert!(bf16.iter().all(|i| i.case.dtype == BenchDType::Bf16));
        let floats: Vec<Item> = items.iter().filter(|i| i.case.dtype != BenchDType::I8).cloned().collect();
        assert_eq!(keys(&bf16), keys(&floats));
        let i8 = with_dtype(items.clone(), Some(BenchDType::I8));
        assert_eq!(keys(&i8), keys(&items));
        assert_eq!(i8.len(), keys(&items).len());
        assert!(i8.iter().all(|i| i.case.dtype == BenchDType::I8));
        assert_eq!(with_dtype(items.clone(), None), items);
    }
}
