// Batched matmul, one invocation per output element (the generic kernel: any strides, any
// dtype pair). a is [batch.., m, k], b is [batch.., k, n], out [batch.., m, n] (core's
// canonical views). Header: p[0] output count, p[1] k, p[10] m, p[11] n, p[4]/p[5] zero points.

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= pu(0u)) { return; }
    let k = pu(1u);
    let m = pu(10u);
    let n = pu(11u);
    let j = o % n;
    let t = o / n;
    let i = t % m;
    let bi = t / m;
    let ra = vrank(0u);
    let rb = vrank(1u);
    var acc_f: f32 = 0.0;
    var acc_i: i32 = 0;
    if (k > 0u) {
        let a0 = voff(0u, bi * m * k) + i * vstride(0u, ra - 2u);
        let sak = vstride(0u, ra - 1u);
        let b0 = voff(1u, bi * k * n) + j * vstride(1u, rb - 1u);
        let sbk = vstride(1u, rb - 2u);
        let za = pi(4u);
        let zb = pi(5u);
        for (var q0 = 0u; q0 < k; q0 = q0 + CHUNK) {
        for (var q = q0; q < min(k, q0 + CHUNK); q = q + 1u) {
            if (INT_MATH) {
                acc_i = acc_i + (ldi0(a0 + q * sak) - za) * (ldi1(b0 + q * sbk) - zb);
            } else {
                acc_f = acc_f + ldf0(a0 + q * sak) * ldf1(b0 + q * sbk);
            }
        }
        }
    }
    let oe = voff(4u, o);
    if (INT_MATH) { epilogue_i(oe, o, j, acc_i); } else { epilogue_f(oe, o, j, acc_f); }
}
