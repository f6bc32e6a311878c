// Shared helpers of every accel WGSL kernel: parameter access, strided view offsets, dtype
// conversions with the contract's rounding (round to nearest even, saturating integer casts,
// NaN to 0), and NaN-propagating max/min. Storage is raw u32 words holding the host byte image,
// so f16/bf16/i8/u8 elements are sub-word fields; the prelude generated on the host defines
// the per-binding `ldf*`/`ldi*` loads and the output's `stf`/`sti` stores on top of these.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> in0: array<u32>;
@group(0) @binding(2) var<storage, read> in1: array<u32>;
@group(0) @binding(3) var<storage, read> in2: array<u32>;
@group(0) @binding(4) var<storage, read> in3: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<atomic<u32>>;

const VIEW_BASE: u32 = 16u;
const VIEW_WORDS: u32 = 18u;
const EXTRA_BASE: u32 = 106u;
const SCALE_BASE: u32 = 107u;
// Chunk of a long loop walked as an outer loop over chunks (bounded inner trip counts). This
// does not lift llvmpipe's cap of 65,535 loop trips, which counts a loop's trips in total
// (measured: a chunked 1M-element softmax row came back wrong); kernels that must walk more
// split the work across invocations (two-pass reduce, workgroup softmax).
const CHUNK: u32 = 4096u;

fn pu(i: u32) -> u32 { return p[i]; }
fn pf(i: u32) -> f32 { return bitcast<f32>(p[i]); }
fn pi(i: u32) -> i32 { return bitcast<i32>(p[i]); }

// Element offset of the row-major logical index `idx` in view slot `v` (0..3 inputs, 4 output).
// Unrolled (no loop): llvmpipe bounds the loop iterations of one invocation at 65,535 in
// total, so per-element address math must not spend them.
fn voff(v: u32, idx: u32) -> u32 {
    let b = VIEW_BASE + v * VIEW_WORDS;
    let rank = p[b + 1u];
    var rest = idx;
    var off = p[b];
    if (rank > 7u) { let n = p[b + 9u]; off = off + (rest % n) * p[b + 17u]; rest = rest / n; }
    if (rank > 6u) { let n = p[b + 8u]; off = off + (rest % n) * p[b + 16u]; rest = rest / n; }
    if (rank > 5u) { let n = p[b + 7u]; off = off + (rest % n) * p[b + 15u]; rest = rest / n; }
    if (rank > 4u) { let n = p[b + 6u]; off = off + (rest % n) * p[b + 14u]; rest = rest / n; }
    if (rank > 3u) { let n = p[b + 5u]; off = off + (rest % n) * p[b + 13u]; rest = rest / n; }
    if (rank > 2u) { let n = p[b + 4u]; off = off + (rest % n) * p[b + 12u]; rest = rest / n; }
    if (rank > 1u) { let n = p[b + 3u]; off = off + (rest % n) * p[b + 11u]; rest = rest / n; }
    if (rank > 0u) { let n = p[b + 2u]; off = off + (rest % n) * p[b + 10u]; rest = rest / n; }
    return off;
}
fn vstride(v: u32, d: u32) -> u32 { return p[VIEW_BASE + v * VIEW_WORDS + 10u + d]; }
fn vshape(v: u32, d: u32) -> u32 { return p[VIEW_BASE + v * VIEW_WORDS + 2u + d]; }
fn vbase(v: u32) -> u32 { return p[VIEW_BASE + v * VIEW_WORDS]; }
fn vrank(v: u32) -> u32 { return p[VIEW_BASE + v * VIEW_WORDS + 1u]; }

fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }

fn f16_to_f32(h: u32) -> f32 {
    let neg = (h & 0x8000u) != 0u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if (e == 0u) {
        let v = f32(m) * 5.9604644775390625e-8;
        return select(v, -v, neg);
    }
    let s = (h & 0x8000u) << 16u;
    if (e == 31u) { return bitcast<f32>(s | 0x7f800000u | (m << 13u)); }
    return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}
fn bf16_to_f32(h: u32) -> f32 { return bitcast<f32>(h << 16u); }

fn f32_to_f16(v: f32) -> u32 {
    let x = bitcast<u32>(v);
    let s = (x >> 16u) & 0x8000u;
    let ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) { return s | 0x7e00u; }
    if (ax >= 0x477ff000u) { return s | 0x7c00u; }
    if (ax >= 0x38800000u) {
        let r = ax + 0xfffu + ((ax >> 13u) & 1u);
        return s | ((r - 0x38000000u) >> 13u);
    }
    // Subnormal f16: units of 2^-24, WGSL round() is half-to-even.
    return s | u32(round(bitcast<f32>(ax) * 16777216.0));
}
fn f32_to_bf16(v: f32) -> u32 {
    let x = bitcast<u32>(v);
    if ((x & 0x7fffffffu) > 0x7f800000u) { return (x >> 16u) | 0x40u; }
    return (x + 0x7fffu + ((x >> 16u) & 1u)) >> 16u;
}

// Float to integer: toward zero, saturating to [lo, hi], NaN to 0.
fn f2i(v: f32, lo: i32, hi: i32) -> i32 {
    if (is_nan(v)) { return 0; }
    let t = trunc(v);
    if (t >= 2147483648.0) { return hi; }
    if (t < -2147483648.0) { return lo; }
    return clamp(i32(t), lo, hi);
}

// max/min with NaN propagation and +0 > -0.
fn fmax_(a: f32, b: f32) -> f32 {
    if (is_nan(a)) { return a; }
    if (is_nan(b)) { return b; }
    if (a > b) { return a; }
    if (b > a) { return b; }
    return select(b, a, (bitcast<u32>(a) & 0x80000000u) == 0u);
}
fn fmin_(a: f32, b: f32) -> f32 {
    if (is_nan(a)) { return a; }
    if (is_nan(b)) { return b; }
    if (a < b) { return a; }
    if (b < a) { return b; }
    return select(b, a, (bitcast<u32>(a) & 0x80000000u) != 0u);
}

// erf with |error| < 1.2e-7 (Chebyshev-fitted erfc, as in the classic recipe).
fn erf_(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let r = 1.0 - t * exp(poly);
    return select(r, -r, x < 0.0);
}
fn sigmoid_(x: f32) -> f32 {
    if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
    let e = exp(x);
    return e / (1.0 + e);
}
fn gelu_(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_(x * 0.70710678118654752)); }
fn tanh_(x: f32) -> f32 {
    // A series near 0 (where (e^2a - 1)/(e^2a + 1) cancels), saturation for large |x|.
    let a = abs(x);
    var r: f32;
    if (a < 0.0625) {
        let a2 = a * a;
        r = a * (1.0 + a2 * (-0.33333333 + a2 * (0.13333333 + a2 * -0.05396825)));
    } else if (a > 10.0) {
        r = 1.0;
    } else {
        let em = exp(2.0 * a);
        r = (em - 1.0) / (em + 1.0);
    }
    return select(r, -r, x < 0.0);
}
// C99 pow: special cases first, then exp2(b·log2|a|) with the sign of an odd integer power.
fn pow_(a: f32, b: f32) -> f32 {
    let inf = bitcast<f32>(0x7f800000u);
    if (a == 1.0 || b == 0.0) { return 1.0; }
    if (is_nan(a) || is_nan(b)) { return a + b; }
    let aa = abs(a);
    if (abs(b) == inf) {
        if (aa == 1.0) { return 1.0; }
        return select(inf, 0.0, (aa < 1.0) == (b > 0.0));
    }
    let bi = b == trunc(b);
    let odd = bi && (abs(b) < 16777216.0) && ((i32(b) & 1) != 0);
    let neg = (bitcast<u32>(a) & 0x80000000u) != 0u;
    if (aa == inf || a == 0.0) {
        // |a|^b is inf or 0; the sign follows an odd integer power of a negative a.
        let big = (aa == inf) == (b > 0.0);
        let r = select(0.0, inf, big);
        return select(r, -r, neg && odd);
    }
    if (a < 0.0 && !bi) { return bitcast<f32>(0x7fc00000u); }
    let r = exp2(b * log2(aa));
    return select(r, -r, a < 0.0 && odd);
}

// Integer to float with one rounding (to nearest even) to `keep` significant bits, so i32 ->
// f16/bf16 does not round twice through f32.
fn i2f(v: i32, keep: u32) -> f32 {
    let a = select(bitcast<u32>(v), 0u - bitcast<u32>(v), v < 0);
    if (a == 0u) { return 0.0; }
    let bits = firstLeadingBit(a) + 1u;
    var r: f32;
    if (bits <= keep) {
        r = f32(a);
    } else {
        let s = bits - keep;
        var q = a >> s;
        let rem = a & ((1u << s) - 1u);
        let half = 1u << (s - 1u);
        if (rem > half || (rem == half && (q & 1u) == 1u)) { q = q + 1u; }
        r = f32(q) * exp2(f32(s));
    }
    return select(r, -r, v < 0);
}

// Sub-word store into the output: clear the field, then set it (each element has one writer).
fn st_field(e: u32, bits: u32, width: u32) {
    let per = 32u / width;
    let w = e / per;
    let shift = (e % per) * width;
    let mask = ((1u << width) - 1u) << shift;
    atomicAnd(&out[w], ~mask);
    atomicOr(&out[w], (bits << shift) & mask);
}
fn ld_field(word: u32, e: u32, width: u32) -> u32 {
    let per = 32u / width;
    return (word >> ((e % per) * width)) & ((1u << width) - 1u);
}

// Linear invocation index over a dispatch folded into x and y (65,535 groups per dimension).
fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

// sin/cos for large |x| (≥ 2^14, where the driver's own reduction loses the quadrant): exact
// reduction modulo π/2 against the bits of 2/π (24-bit chunks), in base-2^12 limb arithmetic.
const TWO_OVER_PI: array<u32, 12> = array<u32, 12>(0xA2F983u, 0x6E4E44u, 0x1529FCu, 0x2757D1u, 0xF534DDu,
    0xC0DB62u, 0x95993Cu, 0x439041u, 0xFE5163u, 0xABDEBBu, 0xC561B7u, 0x246E3Au);

// (quadrant, remainder in radians) of |x| = m·2^q.
fn reduce_pio2(ax: f32) -> vec2<f32> {
    let bits = bitcast<u32>(ax);
    let q = i32(bits >> 23u) - 150;
    let m = (bits & 0x7fffffu) | 0x800000u;
    var j0 = 0;
    if (q >= 26) { j0 = (q - 26) / 24 + 1; }
    let s = q - 24 * j0 - 24;
    var limbs: array<u32, 12>;
    let ml = m & 0xfffu;
    let mh = m >> 12u;
    for (var jj = 0; jj < 4; jj = jj + 1) {
        let c = TWO_OVER_PI[min(u32(j0 + jj), 11u)];
        let cl = c & 0xfffu;
        let ch = c >> 12u;
        let base = u32(2 * (3 - jj));
        limbs[base] = limbs[base] + ml * cl;
        limbs[base + 1u] = limbs[base + 1u] + mh * cl + ml * ch;
        limbs[base + 2u] = limbs[base + 2u] + mh * ch;
    }
    for (var i = 0u; i < 11u; i = i + 1u) {
        limbs[i + 1u] = limbs[i + 1u] + (limbs[i] >> 12u);
        limbs[i] = limbs[i] & 0xfffu;
    }
    // Bit p of T is bit 0 of y = |x|·2/π; take 2 integer bits and 24 fraction bits.
    let p = u32(72 - s);
    var win: u32 = 0u;
    for (var b = 0u; b < 26u; b = b + 1u) {
        let i = p + 1u - b;
        let bit = (limbs[min(i / 12u, 11u)] >> (i % 12u)) & 1u;
        win = (win << 1u) | select(bit, 0u, i >= 144u);
    }
    var n = win >> 24u;
    var f = f32(win & 0xffffffu) / 16777216.0;
    if (f > 0.5) { f = f - 1.0; n = n + 1u; }
    return vec2<f32>(f32(n & 3u), f * 1.5707963267948966);
}
fn sin_(x: f32) -> f32 {
    let ax = abs(x);
    if (!(ax >= 16384.0) || ax == bitcast<f32>(0x7f800000u)) { return sin(x); }
    let qr = reduce_pio2(ax);
    let n = u32(qr.x);
    var r = sin(qr.y);
    if (n == 1u) { r = cos(qr.y); } else if (n == 2u) { r = -sin(qr.y); } else if (n == 3u) { r = -cos(qr.y); }
    return select(r, -r, x < 0.0);
}
fn cos_(x: f32) -> f32 {
    let ax = abs(x);
    if (!(ax >= 16384.0) || ax == bitcast<f32>(0x7f800000u)) { return cos(x); }
    let qr = reduce_pio2(ax);
    let n = u32(qr.x);
    var r = cos(qr.y);
    if (n == 1u) { r = -sin(qr.y); } else if (n == 2u) { r = -cos(qr.y); } else if (n == 3u) { r = sin(qr.y); }
    return r;
}
