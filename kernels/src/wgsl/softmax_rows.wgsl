// Softmax / log-softmax over the last axis with one 64-lane workgroup per row (few or long rows):
// lane l takes every 64th element from l; the row's max and its sum of exponentials are
// combined across lanes in workgroup memory (lane order), then every lane writes its
// elements. Computed in f32. Header: p[0] = row count, p[1] = row length L. The prelude
// defines LOG and `ioff`. Loops are chunked (llvmpipe bounds one loop's trips).

var<workgroup> red: array<f32, 64>;

// The 64 lanes' values in `red` combined in lane order (max when `is_max`, else sum).
fn combine(lid: u32, is_max: bool) -> f32 {
    workgroupBarrier();
    var r = red[0];
    for (var l = 1u; l < 64u; l = l + 1u) {
        if (is_max) { r = fmax_(r, red[l]); } else { r = r + red[l]; }
    }
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.y * nwg.x + wid.x;
    if (row >= pu(0u)) { return; }
    let len = pu(1u);
    let base = row * len;
    var m = bitcast<f32>(0xff800000u);
    for (var j0 = lid; j0 < len; j0 = j0 + 64u * CHUNK) {
        for (var j = j0; j < min(len, j0 + 64u * CHUNK); j = j + 64u) { m = fmax_(m, ldf0(ioff(0u, base + j))); }
    }
    red[lid] = m;
    m = combine(lid, true);
    var s: f32 = 0.0;
    for (var j0 = lid; j0 < len; j0 = j0 + 64u * CHUNK) {
        for (var j = j0; j < min(len, j0 + 64u * CHUNK); j = j + 64u) { s = s + exp(ldf0(ioff(0u, base + j)) - m); }
    }
    red[lid] = s;
    s = combine(lid, false);
    let ls = log(s);
    for (var j0 = lid; j0 < len; j0 = j0 + 64u * CHUNK) {
        for (var j = j0; j < min(len, j0 + 64u * CHUNK); j = j + 64u) {
            let d = ldf0(ioff(0u, base + j)) - m;
            if (LOG) { stf(ioff(4u, base + j), d - ls); } else { stf(ioff(4u, base + j), exp(d) / s); }
        }
    }
}
