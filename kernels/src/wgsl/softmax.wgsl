// Softmax / log-softmax over the last axis of the (canonical, axis-last) input view: one
// invocation per row, three passes (max, sum of exponentials, write), computed in f32.
// Header: p[0] = row count, p[1] = row length L. The prelude defines LOG.

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = linear_id(wid, nwg, lid);
    if (row >= pu(0u)) { return; }
    let len = pu(1u);
    var m = bitcast<f32>(0xff800000u);
    for (var j0 = 0u; j0 < len; j0 = j0 + CHUNK) {
        for (var j = j0; j < min(len, j0 + CHUNK); j = j + 1u) { m = fmax_(m, ldf0(ioff(0u, row * len + j))); }
    }
    var s: f32 = 0.0;
    for (var j0 = 0u; j0 < len; j0 = j0 + CHUNK) {
        for (var j = j0; j < min(len, j0 + CHUNK); j = j + 1u) { s = s + exp(ldf0(ioff(0u, row * len + j)) - m); }
    }
    let ls = log(s);
    for (var j0 = 0u; j0 < len; j0 = j0 + CHUNK) {
    for (var j = j0; j < min(len, j0 + CHUNK); j = j + 1u) {
        let d = ldf0(ioff(0u, row * len + j)) - m;
        if (LOG) { stf(ioff(4u, row * len + j), d - ls); } else { stf(ioff(4u, row * len + j), exp(d) / s); }
    }
    }
}
