// Tiled batched matmul for float math (f32, and f16/bf16 stored, computed in f32): one 16x16
// workgroup computes a 64x64 output tile; each invocation owns a 4x4 block of it in four vec4
// accumulators (register tiling). The k dimension is walked in steps of 16: the workgroup
// stages a 64x16 tile of a and a 16x64 tile of b in workgroup memory (one vec4 per invocation
// each), so every element loaded from storage feeds 64 multiply-adds instead of one.
// Dispatch: (ceil(n/64), ceil(m/64), batch). Views and header as in matmul.wgsl; any strides.
// Each output sums its k products in order q = 0..k-1, exactly as the generic kernel does.
// Loop trips per invocation are about 17k/16 (llvmpipe stops a loop after 65,535 trips in
// total), so the host sends k <= TILED_MAX_K here and larger k to the generic kernel.

const TM: u32 = 64u;
const TK: u32 = 16u;

// ta[kk * 16 + r4] = rows 4*r4 .. 4*r4+3 of column kk of the a tile;
// tb[kk * 16 + c4] = columns 4*c4 .. 4*c4+3 of row kk of the b tile.
var<workgroup> ta: array<vec4<f32>, 256>;
var<workgroup> tb: array<vec4<f32>, 256>;

// a[i][q] of the current batch, 0 outside the matrix (the padding of edge tiles).
fn tile_a(base: u32, sm: u32, sk: u32, i: u32, q: u32, m: u32, k: u32) -> f32 {
    if (i < m && q < k) { return ldf0(base + i * sm + q * sk); }
    return 0.0;
}
fn tile_b(base: u32, sk: u32, sn: u32, q: u32, j: u32, k: u32, n: u32) -> f32 {
    if (q < k && j < n) { return ldf1(base + q * sk + j * sn); }
    return 0.0;
}

// Output (i, j) through the fused epilogue, if inside the matrix.
fn put(bi: u32, i: u32, j: u32, v: f32, m: u32, n: u32) {
    if (i >= m || j >= n) { return; }
    let o = (bi * m + i) * n + j;
    epilogue_f(voff(4u, o), o, j, v);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let k = pu(1u);
    let m = pu(10u);
    let n = pu(11u);
    let bi = wid.z;
    let row0 = wid.y * TM;
    let col0 = wid.x * TM;
    let ra = vrank(0u);
    let rb = vrank(1u);
    let a0 = voff(0u, bi * m * k);
    let sam = vstride(0u, ra - 2u);
    let sak = vstride(0u, ra - 1u);
    let b0 = voff(1u, bi * k * n);
    let sbk = vstride(1u, rb - 2u);
    let sbn = vstride(1u, rb - 1u);
    // This invocation's staging slot: column lk of the a tile, rows li..li+3; row lk of the
    // b tile, columns lj..lj+3 (contiguous in a row-major b: a 4-word run).
    let lk = t / 16u;
    let li = row0 + (t % 16u) * 4u;
    let lj = col0 + (t % 16u) * 4u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var q0 = 0u; q0 < k; q0 = q0 + TK) {
        let q = q0 + lk;
        ta[t] = vec4<f32>(tile_a(a0, sam, sak, li, q, m, k), tile_a(a0, sam, sak, li + 1u, q, m, k),
                          tile_a(a0, sam, sak, li + 2u, q, m, k), tile_a(a0, sam, sak, li + 3u, q, m, k));
        tb[t] = vec4<f32>(tile_b(b0, sbk, sbn, q, lj, k, n), tile_b(b0, sbk, sbn, q, lj + 1u, k, n),
                          tile_b(b0, sbk, sbn, q, lj + 2u, k, n), tile_b(b0, sbk, sbn, q, lj + 3u, k, n));
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            let a = ta[kk * 16u + lid.y];
            let b = tb[kk * 16u + lid.x];
            acc0 = acc0 + a.x * b;
            acc1 = acc1 + a.y * b;
            acc2 = acc2 + a.z * b;
            acc3 = acc3 + a.w * b;
        }
        workgroupBarrier();
    }
    // One call site for the 16 stores: the driver inlines every call, and 16 copies of the
    // epilogue (GELU, requantization, rank-8 address math) made pipelines slow to compile.
    var accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    let i = row0 + lid.y * 4u;
    let j = col0 + lid.x * 4u;
    for (var e = 0u; e < 16u; e = e + 1u) {
        let r = e / 4u;
        let c = e % 4u;
        put(bi, i + r, j + c, accs[r][c], m, n);
    }
}
