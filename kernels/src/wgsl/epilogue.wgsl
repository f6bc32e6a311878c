// The fused epilogue of matmul and convolution (core/src/op/epilogue.rs), applied to one
// output element at offset oe with logical index lin and channel c. The prelude defines
// INT_MATH, HAS_BIAS/HAS_RES with bias_f/bias_i/res_f/res_i, ACT (0 none, 1 relu, 2 gelu,
// 3 silu, 4 clamp), REQ, and ldfo (the output's previous value for beta).
// Header: p[2] alpha, p[3] beta, p[6]/p[7] clamp bounds, p[8] requant zero point,
// p[9] = 1 when the scales are per channel; scales from SCALE_BASE.

fn requant_store(oe: u32, v: f32, c: u32) {
    let scale = pf(SCALE_BASE + select(0u, c, pu(9u) == 1u));
    let q = round(v * scale) + f32(pi(8u));
    sti(oe, i32(clamp(q, f32(OUT_LO), f32(OUT_HI))));
}

fn epilogue_f(oe: u32, lin: u32, c: u32, acc: f32) {
    var v = pf(2u) * acc;
    if (pf(3u) != 0.0) { v = v + pf(3u) * ldfo(oe); }
    if (HAS_BIAS) { v = v + bias_f(c); }
    if (HAS_RES) { v = v + res_f(lin); }
    if (ACT == 1u) { v = fmax_(v, 0.0); }
    if (ACT == 2u) { v = gelu_(v); }
    if (ACT == 3u) { v = v * sigmoid_(v); }
    if (ACT == 4u) { v = fmin_(fmax_(v, pf(6u)), pf(7u)); }
    if (REQ) { requant_store(oe, v, c); } else { stf(oe, v); }
}

fn epilogue_i(oe: u32, lin: u32, c: u32, acc: i32) {
    var v = acc;
    if (HAS_BIAS) { v = v + bias_i(c); }
    if (HAS_RES) { v = v + res_i(lin); }
    if (ACT == 1u) { v = max(v, 0); }
    if (ACT == 4u) { v = clamp(v, f2i(pf(6u), -2147483647 - 1, 2147483647), f2i(pf(7u), -2147483647 - 1, 2147483647)); }
    if (REQ) { requant_store(oe, f32(v), c); } else { sti(oe, v); }
}
