#!/usr/bin/env python3
"""onnxruntime on the shapes accel-bench measures, printing the same JSON line.

Builds a single-op ONNX model in memory -- MatMul (f32), MatMulInteger (u8 x i8 -> i32,
no zero points) or Conv (f32, NCHW) -- with the weights as initializers (as in a real
model), runs it on the CPU execution provider with intra_op_num_threads = --threads,
checks the output once against a float64 / int64 numpy reference, then times it: two
warm-up runs, then at least --reps runs and at least --min-time seconds, each run timed
alone, through an IO binding into a preallocated output (like accel's `*_into`).

Conv runs at two graph optimisation levels and prints a line for each (--opt both, the
default for conv): `all` (ORT_ENABLE_ALL: MLAS NCHWc direct convolution, timings include
the NCHW <-> NCHWc reorders) and `basic` (ORT_ENABLE_BASIC: im2col + GEMM).

Shapes use accel-bench's syntax: M,N,K for matmul; N,C,H,W,K,R,S,stride,pad[,groups]
for conv. With --probe PATH (an accel-bench binary) the line also carries the in-process
peak measured on the same thread count right before timing, and peak_fraction.

Setup (see README.md beside this file):
    python3 -m venv /tmp/ortvenv && /tmp/ortvenv/bin/pip install onnxruntime onnx numpy
    /tmp/ortvenv/bin/python benches/scripts/onnxruntime_bench.py --op matmul --shape 512,512,512 --threads 1 --json
"""

import argparse
import json
import math
import platform
import subprocess
import sys
import time

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # pragma: no cover - depends on the environment
    sys.exit(f"onnxruntime_bench.py: {e}; install with: python3 -m venv /tmp/ortvenv && "
             "/tmp/ortvenv/bin/pip install onnxruntime onnx numpy")

OPSET = 17
IR_VERSION = 8  # old enough for every onnxruntime release that supports opset 17
CHECK_FLOPS = 400_000_000  # most operations the numpy reference spends on one check


def fail(msg):
    print(f"onnxruntime_bench.py: {msg}", file=sys.stderr)
    sys.exit(1)


def parse_shape(op, text):
    names = ["M", "N", "K"] if op != "conv" else ["N", "C", "H", "W", "K", "R", "S", "stride", "pad", "groups"]
    lo = 3 if op != "conv" else 9
    parts = [p.strip() for p in text.split(",")]
    if not lo <= len(parts) <= len(names):
        fail(f"shape `{text}`: expected {','.join(names)} ({lo} to {len(names)} numbers), got {len(parts)}")
    vals = []
    for p, name in zip(parts, names):
        if not p.isdigit() or (int(p) == 0 and name != "pad"):
            fail(f"shape `{text}`: {name} must be a positive integer (pad may be 0), got `{p}`")
        vals.append(int(p))
    if op == "conv":
        if len(vals) == 9:
            vals.append(1)
        n, c, h, w, k, r, s, stride, pad, groups = vals
        if c % groups or k % groups:
            fail(f"shape `{text}`: groups = {groups} must divide C = {c} and K = {k}")
        if r > h + 2 * pad or s > w + 2 * pad:
            fail(f"shape `{text}`: a {r}x{s} kernel does not fit the padded input")
    return vals


def conv_out(h, w, r, s, stride, pad):
    return (h + 2 * pad - r) // stride + 1, (w + 2 * pad - s) // stride + 1


def build(op, shape, rng):
    """The model bytes, the input feed, the output name/shape/dtype, flops and bytes."""
    if op in ("matmul", "matmulinteger"):
        m, n, k = shape
        if op == "matmul":
            a = rng.uniform(-2, 2, (m, k)).astype(np.float32)
            b = rng.uniform(-2, 2, (k, n)).astype(np.float32)
            in_t, out_t, out_np, node = TensorProto.FLOAT, TensorProto.FLOAT, np.float32, "MatMul"
        else:
            a = rng.integers(0, 128, (m, k), dtype=np.uint8)
            b = rng.integers(-64, 64, (k, n), dtype=np.int8)
            in_t, out_t, out_np, node = TensorProto.UINT8, TensorProto.INT32, np.int32, "MatMulInteger"
        nodes = [helper.make_node(node, ["A", "B"], ["Y"])]
        inputs = [helper.make_tensor_value_info("A", in_t, [m, k])]
        inits = [numpy_helper.from_array(b, "B")]
        out_shape = (m, n)
        flops = 2 * m * n * k
        nbytes = a.nbytes + b.nbytes + m * n * 4
        weights = b
    else:
        n, c, h, w, k, r, s, stride, pad, groups = shape
        a = rng.uniform(-2, 2, (n, c, h, w)).astype(np.float32)
        b = rng.uniform(-2, 2, (k, c // groups, r, s)).astype(np.float32)
        oh, ow = conv_out(h, w, r, s, stride, pad)
        nodes = [helper.make_node("Conv", ["A", "B"], ["Y"], kernel_shape=[r, s], strides=[stride, stride],
                                  pads=[pad, pad, pad, pad], group=groups)]
        inputs = [helper.make_tensor_value_info("A", TensorProto.FLOAT, [n, c, h, w])]
        inits = [numpy_helper.from_array(b, "B")]
        out_t, out_np, out_shape = TensorProto.FLOAT, np.float32, (n, k, oh, ow)
        flops = 2 * n * k * oh * ow * (c // groups) * r * s
        nbytes = a.nbytes + b.nbytes + n * k * oh * ow * 4
        weights = b
    outputs = [helper.make_tensor_value_info("Y", out_t, list(out_shape))]
    graph = helper.make_graph(nodes, f"accel_bench_{op}", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString(), a, weights, out_shape, out_np, flops, nbytes


def reference_rows(op, shape, a, b, lead_idx):
    """The exact (float64 / int64) output for the given leading-axis indices."""
    if op in ("matmul", "matmulinteger"):
        wide = np.int64 if op == "matmulinteger" else np.float64
        return a[lead_idx].astype(wide) @ b.astype(wide)
    n, c, h, w, k, r, s, stride, pad, groups = shape
    x = np.pad(a[lead_idx].astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(x, (r, s), axis=(2, 3))[:, :, ::stride, ::stride]
    cg, kg = c // groups, k // groups
    outs = []
    for g in range(groups):
        xg = win[:, g * cg:(g + 1) * cg]  # [n, cg, oh, ow, r, s]
        wg = b[g * kg:(g + 1) * kg].astype(np.float64)  # [kg, cg, r, s]
        outs.append(np.einsum("ncyxij,kcij->nkyx", xg, wg, optimize=True))
    return np.concatenate(outs, axis=1)


def check(op, shape, a, b, got, flops):
    lead = got.shape[0]
    count = max(1, min(lead, CHECK_FLOPS // max(1, flops // lead)))
    idx = list(range(lead)) if count >= lead else sorted({i * (lead - 1) // max(1, count - 1) for i in range(count)})
    want = reference_rows(op, shape, a, b, idx)
    mine = got[idx]
    if op == "matmulinteger":
        bad = np.count_nonzero(mine.astype(np.int64) != want)
        tol_text = "exact"
    else:
        red = shape[2] if op == "matmul" else (shape[1] // shape[9]) * shape[5] * shape[6]
        tol = 1e-5 * math.sqrt(red)
        bad = np.count_nonzero(np.abs(mine.astype(np.float64) - want) > tol + tol * np.abs(want))
        tol_text = f"abs/rel {tol:.2e}"
    if bad:
        fail(f"{op} {shape}: {bad} of {want.size} checked elements differ from the numpy reference ({tol_text})")


def probe_peak(binary, threads, op):
    if not binary:
        return None, None
    try:
        out = subprocess.run([binary, "probe", "--threads", str(threads), "--peaks-only", "--json"],
                             capture_output=True, text=True, check=True).stdout
        peaks = json.loads(out.strip().splitlines()[-1])["peak_gflops"]
    except (OSError, subprocess.CalledProcessError, ValueError, KeyError, IndexError) as e:
        fail(f"peak probe `{binary}` failed: {e}")
    kinds = ["vnni_zmm", "vnni_ymm"] if op == "matmulinteger" else ["f32_zmm", "f32_ymm", "f32_neon"]
    for kind in kinds:
        if peaks.get(kind):
            return peaks[kind], kind
    return None, None


def time_runs(run, min_reps, min_time):
    run()
    run()
    t = time.perf_counter()
    run()
    one = max(time.perf_counter() - t, 1e-9)
    reps = max(min_reps, min(200_000, math.ceil(min_time / one)))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    times.sort()
    mid = len(times) // 2
    median = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
    return times[0], median, reps


def measure(args, shape, opt):
    rng = np.random.default_rng(args.seed)
    model, a, b, out_shape, out_np, flops, nbytes = build(args.op, shape, rng)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if opt == "all"
                                   else ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    out = np.empty(out_shape, dtype=out_np)
    binding = sess.io_binding()
    binding.bind_cpu_input("A", a)
    binding.bind_output("Y", "cpu", 0, out_np, list(out_shape), out.ctypes.data)

    def run():
        sess.run_with_iobinding(binding)

    run()
    check(args.op, shape, a, b, out, flops)
    peak, probe = probe_peak(args.probe, args.threads, args.op)
    best, median, reps = time_runs(run, args.reps, args.min_time)
    gflops = flops / best / 1e9
    # Conv names its optimisation level (two columns); matmul only when asked for one.
    variant = opt if args.op == "conv" or args.opt else None
    shape_text = ",".join(map(str, shape))
    layout, op_name = ("nchw", "conv2d") if args.op == "conv" else ("row-major", "matmul")
    return {
        "peer": "onnxruntime",
        "variant": variant,
        "op": op_name,
        "shape": shape_text,
        "dtype": "i8" if args.op == "matmulinteger" else "f32",
        "threads": args.threads,
        "layout": layout,
        "epilogue": "none",
        "gflops": gflops,
        "gbs": nbytes / best / 1e9,
        "best_ms": best * 1e3,
        "median_ms": median * 1e3,
        "reps": reps,
        "peak_gflops": peak,
        "peak_fraction": gflops / peak if peak else None,
        "peak_probe": probe,
        "device": "cpu",
        "cpu": cpu_model(),
        "isa": None,
        "checked": True,
        "ort_version": ort.__version__,
        "ort_op": {"matmul": "MatMul", "matmulinteger": "MatMulInteger", "conv": "Conv"}[args.op],
    }


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--op", required=True, choices=["matmul", "matmulinteger", "conv"])
    p.add_argument("--shape", required=True, help="M,N,K or N,C,H,W,K,R,S,stride,pad[,groups]")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--opt", choices=["all", "basic", "both"], help="graph optimisation (default: both for conv, all otherwise)")
    p.add_argument("--reps", type=int, default=5, help="fewest timed runs")
    p.add_argument("--min-time", type=float, default=0.3, help="least total timed seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--probe", help="accel-bench binary to measure the peak with")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a summary")
    args = p.parse_args()
    if not 1 <= args.threads <= 1024:
        fail(f"--threads must be in 1..=1024, got {args.threads}")
    if args.reps < 1:
        fail(f"--reps must be at least 1, got {args.reps}")
    shape = parse_shape(args.op, args.shape)
    opts = {"both": ["all", "basic"], None: ["all", "basic"] if args.op == "conv" else ["all"]}.get(args.opt, [args.opt])
    for opt in opts:
        rec = measure(args, shape, opt)
        if args.json:
            print(json.dumps(rec), flush=True)
        else:
            frac = f", {rec['peak_fraction'] * 100:.0f}% of peak" if rec["peak_fraction"] else ""
            print(f"onnxruntime {rec['ort_op']} ({opt}) {rec['dtype']} [{rec['shape']}] {args.threads}T: "
                  f"{rec['gflops']:.1f} G/s (best {rec['best_ms']:.3f} ms, median {rec['median_ms']:.3f} ms, "
                  f"{rec['reps']} reps{frac})", flush=True)


if __name__ == "__main__":
    main()
