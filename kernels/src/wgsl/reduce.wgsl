// Reductions: one workgroup of 64 lanes per output element. The input view is
// [kept.., reduced..] (core's canonical form), so output o reads logical inputs o*R .. o*R+R;
// lane l takes r = l, l+64, ... (llvmpipe caps the loop iterations of one invocation at
// 65,535, so a long run must be shared), then lane 0 combines the 64 partials in lane order.
// Header: p[0] = output count, p[1] = R. The prelude defines RED (0 sum, 1 max, 2 min, 3 mean),
// INT_MATH, ldf0/ldi0 and the output's stf/sti.

var<workgroup> part_f: array<f32, 64>;
var<workgroup> part_i: array<i32, 64>;
var<workgroup> part_lo: array<u32, 64>;
var<workgroup> part_hi: array<i32, 64>;
var<workgroup> part_inf: array<u32, 64>;

const INF_BITS: u32 = 0x7f800000u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let o = wid.y * nwg.x + wid.x;
    if (o >= pu(0u)) { return; }
    let r_len = pu(1u);
    if (INT_MATH) {
        var acc: i32 = 0;
        // Exact 64-bit sum for the mean (lo word + signed hi word).
        var lo: u32 = 0u;
        var hi: i32 = 0;
        if (RED == 1u) { acc = -2147483647 - 1; }
        if (RED == 2u) { acc = 2147483647; }
        for (var r = lid; r < r_len; r = r + 64u) {
            let x = ldi0(ioff(0u, o * r_len + r));
            if (RED == 1u) { acc = max(acc, x); } else if (RED == 2u) { acc = min(acc, x); } else { acc = acc + x; }
            let nlo = lo + bitcast<u32>(x);
            hi = hi + select(0, -1, x < 0) + select(0, 1, nlo < lo);
            lo = nlo;
        }
        part_i[lid] = acc;
        part_lo[lid] = lo;
        part_hi[lid] = hi;
    } else {
        var acc: f32 = 0.0;
        if (RED == 1u) { acc = bitcast<f32>(0xff800000u); }
        if (RED == 2u) { acc = bitcast<f32>(INF_BITS); }
        // Sums keep infinities apart from the finite part, so a finite overflow next to an
        // infinity of the other sign does not turn into NaN.
        var inf = 0u;
        for (var r = lid; r < r_len; r = r + 64u) {
            let x = ldf0(ioff(0u, o * r_len + r));
            if (RED == 1u) {
                acc = fmax_(acc, x);
            } else if (RED == 2u) {
                acc = fmin_(acc, x);
            } else if (abs(x) == bitcast<f32>(INF_BITS)) {
                inf = inf | select(2u, 1u, x > 0.0);
            } else {
                acc = acc + x;
            }
        }
        part_f[lid] = acc;
        part_inf[lid] = inf;
    }
    workgroupBarrier();
    if (lid != 0u) { return; }
    let oe = ioff(4u, o);
    if (INT_MATH) {
        var acc = part_i[0];
        var lo = part_lo[0];
        var hi = part_hi[0];
        for (var l = 1u; l < 64u; l = l + 1u) {
            let x = part_i[l];
            if (RED == 1u) { acc = max(acc, x); } else if (RED == 2u) { acc = min(acc, x); } else { acc = acc + x; }
            let nlo = lo + part_lo[l];
            hi = hi + part_hi[l] + select(0, 1, nlo < lo);
            lo = nlo;
        }
        if (RED == 3u) {
            // Totals inside i32 convert exactly; larger ones round (relative error 2^-24).
            let small = (hi == 0 && lo < 0x80000000u) || (hi == -1 && lo >= 0x80000000u);
            let total = select(f32(hi) * 4294967296.0 + f32(lo), f32(bitcast<i32>(lo)), small);
            stf(oe, total / f32(r_len));
        } else {
            sti(oe, acc);
        }
    } else {
        var acc = part_f[0];
        var inf = part_inf[0];
        for (var l = 1u; l < 64u; l = l + 1u) {
            let x = part_f[l];
            inf = inf | part_inf[l];
            if (RED == 1u) { acc = fmax_(acc, x); } else if (RED == 2u) { acc = fmin_(acc, x); } else { acc = acc + x; }
        }
        if ((RED == 0u || RED == 3u) && !is_nan(acc)) {
            if (inf == 3u) { acc = bitcast<f32>(0x7fc00000u); }
            else if (inf == 1u) { acc = bitcast<f32>(INF_BITS); }
            else if (inf == 2u) { acc = bitcast<f32>(0xff800000u); }
        }
        if (RED == 3u) { acc = acc / f32(r_len); }
        stf(oe, acc);
    }
}
