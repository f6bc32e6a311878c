// Reductions over trailing reduced dims, in one pass or, for few outputs over long runs, two.
// The input view is [kept.., reduced..] (core's canonical form), so output o reads logical
// inputs o*R .. o*R+R. A workgroup of 64 lanes reduces one run: lane l takes every 64th
// element from l (llvmpipe caps the loop iterations of one invocation at 65,535, so a long
// run must be shared), then lane 0 merges the 64 lane states in lane order.
//   PASS 0: one workgroup per output reduces all R and stores the result.
//   PASS 1: G workgroups per output (p[2] = G) each reduce one segment of ceil(R/G) elements
//           and write its state as a 3-word record to the scratch output, record o*G + s.
//   PASS 2: one workgroup per output merges its G records (read raw from input 0) and stores.
// A state is (acc, lo, hi, inf): the running sum/max/min; for integers the exact 64-bit sum
// (lo word + signed hi word) the mean needs; for float sums the infinities seen (1 +inf,
// 2 -inf), kept apart from the finite part so a finite overflow next to an infinity of the
// other sign does not turn into NaN. Records hold [acc bits, lo or inf, hi].
// Header: p[0] = output count, p[1] = R, p[2] = G. The prelude defines RED (0 sum, 1 max,
// 2 min, 3 mean), INT_MATH, PASS, ldf0/ldi0 and the output's stf/sti.

var<workgroup> part_f: array<f32, 64>;
var<workgroup> part_i: array<i32, 64>;
var<workgroup> part_lo: array<u32, 64>;
var<workgroup> part_hi: array<i32, 64>;
var<workgroup> part_inf: array<u32, 64>;

const INF_BITS: u32 = 0x7f800000u;

fn merge_i(acc: i32, x: i32) -> i32 {
    if (RED == 1u) { return max(acc, x); }
    if (RED == 2u) { return min(acc, x); }
    return acc + x;
}
fn merge_f(acc: f32, x: f32) -> f32 {
    if (RED == 1u) { return fmax_(acc, x); }
    if (RED == 2u) { return fmin_(acc, x); }
    return acc + x;
}
fn init_i() -> i32 {
    if (RED == 1u) { return -2147483647 - 1; }
    if (RED == 2u) { return 2147483647; }
    return 0;
}
fn init_f() -> f32 {
    if (RED == 1u) { return bitcast<f32>(0xff800000u); }
    if (RED == 2u) { return bitcast<f32>(INF_BITS); }
    return 0.0;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let wg = wid.y * nwg.x + wid.x;
    let segs = select(1u, pu(2u), PASS == 1u);
    let o = wg / segs;
    if (o >= pu(0u)) { return; }
    let r_len = pu(1u);
    // This workgroup's run: all of R, one segment of it, or (PASS 2) the G records.
    var lo_r = 0u;
    var hi_r = r_len;
    if (PASS == 1u) {
        let seg = (r_len + segs - 1u) / segs;
        lo_r = min(r_len, (wg % segs) * seg);
        hi_r = min(r_len, lo_r + seg);
    }
    if (PASS == 2u) { hi_r = pu(2u); }
    var acc_i = init_i();
    var acc_f = init_f();
    var lo: u32 = 0u;
    var hi: i32 = 0;
    var inf = 0u;
    for (var r = lo_r + lid; r < hi_r; r = r + 64u) {
        if (PASS == 2u) {
            let rec = (o * hi_r + r) * 3u;
            if (INT_MATH) {
                acc_i = merge_i(acc_i, bitcast<i32>(in0[rec]));
                let nlo = lo + in0[rec + 1u];
                hi = hi + bitcast<i32>(in0[rec + 2u]) + select(0, 1, nlo < lo);
                lo = nlo;
            } else {
                acc_f = merge_f(acc_f, bitcast<f32>(in0[rec]));
                inf = inf | in0[rec + 1u];
            }
        } else if (INT_MATH) {
            let x = ldi0(ioff(0u, o * r_len + r));
            acc_i = merge_i(acc_i, x);
            let nlo = lo + bitcast<u32>(x);
            hi = hi + select(0, -1, x < 0) + select(0, 1, nlo < lo);
            lo = nlo;
        } else {
            let x = ldf0(ioff(0u, o * r_len + r));
            if ((RED == 0u || RED == 3u) && abs(x) == bitcast<f32>(INF_BITS)) {
                inf = inf | select(2u, 1u, x > 0.0);
            } else {
                acc_f = merge_f(acc_f, x);
            }
        }
    }
    part_i[lid] = acc_i;
    part_f[lid] = acc_f;
    part_lo[lid] = lo;
    part_hi[lid] = hi;
    part_inf[lid] = inf;
    workgroupBarrier();
    if (lid != 0u) { return; }
    for (var l = 1u; l < 64u; l = l + 1u) {
        if (INT_MATH) {
            acc_i = merge_i(acc_i, part_i[l]);
            let nlo = lo + part_lo[l];
            hi = hi + part_hi[l] + select(0, 1, nlo < lo);
            lo = nlo;
        } else {
            acc_f = merge_f(acc_f, part_f[l]);
            inf = inf | part_inf[l];
        }
    }
    if (PASS == 1u) {
        let rec = wg * 3u;
        if (INT_MATH) {
            atomicStore(&out[rec], bitcast<u32>(acc_i));
            atomicStore(&out[rec + 1u], lo);
            atomicStore(&out[rec + 2u], bitcast<u32>(hi));
        } else {
            atomicStore(&out[rec], bitcast<u32>(acc_f));
            atomicStore(&out[rec + 1u], inf);
        }
        return;
    }
    let oe = ioff(4u, o);
    if (INT_MATH) {
        if (RED == 3u) {
            // Totals inside i32 convert exactly; larger ones round (relative error 2^-24).
            let small = (hi == 0 && lo < 0x80000000u) || (hi == -1 && lo >= 0x80000000u);
            let total = select(f32(hi) * 4294967296.0 + f32(lo), f32(bitcast<i32>(lo)), small);
            stf(oe, total / f32(r_len));
        } else {
            sti(oe, acc_i);
        }
    } else {
        if ((RED == 0u || RED == 3u) && !is_nan(acc_f)) {
            if (inf == 3u) { acc_f = bitcast<f32>(0x7fc00000u); }
            else if (inf == 1u) { acc_f = bitcast<f32>(INF_BITS); }
            else if (inf == 2u) { acc_f = bitcast<f32>(0xff800000u); }
        }
        if (RED == 3u) { acc_f = acc_f / f32(r_len); }
        stf(oe, acc_f);
    }
}
