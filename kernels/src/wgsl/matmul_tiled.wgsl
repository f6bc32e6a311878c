// Tiled batched matmul for float math (f32, and f16/bf16 stored, computed in f32). The shape
// comes from the host-generated prelude (accel_kernels::wgsl::TiledConfig): a WX x WY
// workgroup computes a TM x TN output tile (TM = WY*RM, TN = WX*RN); each invocation owns an
// RM x RN block of it in NACC vec4 accumulators (register tiling), updated by the prelude's
// `mma`, which is written out in full. k is walked in steps of TK: the workgroup stages a
// TM x TK tile of a and a TK x TN tile of b in workgroup memory (in vec4 quads), so every
// element loaded from storage feeds TN (a) or TM (b) multiply-adds instead of one.
// Dispatch: (ceil(n/TN), ceil(m/TM), batch). Views and header as in matmul.wgsl; any strides.
// Quads load as 4 adjacent words where the prelude's VEC_A / VEC_B say the operand allows it
// (f32, unit inner stride, 16-byte aligned rows, inner extent a multiple of 4), else as 4
// scalar loads through ldf0/ldf1. Each output sums its k products in order q = 0..k-1,
// exactly as the generic kernel does. llvmpipe stops a shader's loops after 65,535 trips in
// total, so the host sends k <= TiledConfig::max_k() here and larger k to the generic kernel.

// ta[kk * (TM/4) + r4] = rows 4*r4 .. 4*r4+3 of column kk of the a tile;
// tb[kk * (TN/4) + c4] = columns 4*c4 .. 4*c4+3 of row kk of the b tile.
var<workgroup> ta: array<vec4<f32>, TM * TK / 4u>;
var<workgroup> tb: array<vec4<f32>, TK * TN / 4u>;

// a[i][q] of the current batch, 0 outside the matrix (the padding of edge tiles).
fn tile_a(base: u32, sm: u32, sk: u32, i: u32, q: u32, m: u32, k: u32) -> f32 {
    if (i < m && q < k) { return ldf0(base + i * sm + q * sk); }
    return 0.0;
}
fn tile_b(base: u32, sk: u32, sn: u32, q: u32, j: u32, k: u32, n: u32) -> f32 {
    if (q < k && j < n) { return ldf1(base + q * sk + j * sn); }
    return 0.0;
}

// a[i][q..q+3] (q a multiple of 4).
fn quad_a(base: u32, sm: u32, sk: u32, i: u32, q: u32, m: u32, k: u32) -> vec4<f32> {
    if (VEC_A) {
        // Unit stride and k % 4 == 0: the quad is all inside or all outside.
        if (i >= m || q >= k) { return vec4<f32>(0.0); }
        let w = base + i * sm + q;
        return bitcast<vec4<f32>>(vec4<u32>(in0[w], in0[w + 1u], in0[w + 2u], in0[w + 3u]));
    }
    return vec4<f32>(tile_a(base, sm, sk, i, q, m, k), tile_a(base, sm, sk, i, q + 1u, m, k),
                     tile_a(base, sm, sk, i, q + 2u, m, k), tile_a(base, sm, sk, i, q + 3u, m, k));
}
// b[q][j..j+3] (j a multiple of 4).
fn quad_b(base: u32, sk: u32, sn: u32, q: u32, j: u32, k: u32, n: u32) -> vec4<f32> {
    if (VEC_B) {
        if (q >= k || j >= n) { return vec4<f32>(0.0); }
        let w = base + q * sk + j;
        return bitcast<vec4<f32>>(vec4<u32>(in1[w], in1[w + 1u], in1[w + 2u], in1[w + 3u]));
    }
    return vec4<f32>(tile_b(base, sk, sn, q, j, k, n), tile_b(base, sk, sn, q, j + 1u, k, n),
                     tile_b(base, sk, sn, q, j + 2u, k, n), tile_b(base, sk, sn, q, j + 3u, k, n));
}

// Output (i, j) through the fused epilogue, if inside the matrix.
fn put(bi: u32, i: u32, j: u32, v: f32, m: u32, n: u32) {
    if (i >= m || j >= n) { return; }
    let o = (bi * m + i) * n + j;
    epilogue_f(voff(4u, o), o, j, v);
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let k = pu(1u);
    let m = pu(10u);
    let n = pu(11u);
    let bi = wid.z;
    let row0 = wid.y * TM;
    let col0 = wid.x * TN;
    let ra = vrank(0u);
    let rb = vrank(1u);
    let a0 = voff(0u, bi * m * k);
    let sam = vstride(0u, ra - 2u);
    let sak = vstride(0u, ra - 1u);
    let b0 = voff(1u, bi * k * n);
    let sbk = vstride(1u, rb - 2u);
    let sbn = vstride(1u, rb - 1u);
    var acc: array<vec4<f32>, NACC>;
    for (var q0 = 0u; q0 < k; q0 = q0 + TK) {
        // a quads: consecutive invocations read consecutive k of a row (contiguous in a
        // row-major a), stored transposed so that `mma` reads RM rows as vec4s.
        for (var s = 0u; s < A_STEPS; s = s + 1u) {
            let e = t + s * WX * WY;
            if (e < A_QUADS) {
                let r = e / (TK / 4u);
                let kq = (e % (TK / 4u)) * 4u;
                let v = quad_a(a0, sam, sak, row0 + r, q0 + kq, m, k);
                let slot = kq * (TM / 4u) + r / 4u;
                let lane = r % 4u;
                ta[slot][lane] = v.x;
                ta[slot + TM / 4u][lane] = v.y;
                ta[slot + 2u * (TM / 4u)][lane] = v.z;
                ta[slot + 3u * (TM / 4u)][lane] = v.w;
            }
        }
        // b quads: 4 adjacent columns of one row, stored as they are.
        for (var s = 0u; s < B_STEPS; s = s + 1u) {
            let e = t + s * WX * WY;
            if (e < B_QUADS) {
                let kk = e / (TN / 4u);
                let c = (e % (TN / 4u)) * 4u;
                tb[e] = quad_b(b0, sbk, sbn, q0 + kk, col0 + c, k, n);
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            mma(&acc, kk * (TM / 4u) + lid.y * RM4, kk * (TN / 4u) + lid.x * RN4);
        }
        workgroupBarrier();
    }
    // One call site for the stores: the driver inlines every call, and one copy of the
    // epilogue (GELU, requantization, rank-8 address math) per output made pipelines slow to
    // compile. The copy keeps the dynamic index off the accumulators above.
    var accs = acc;
    let i = row0 + lid.y * RM;
    let j = col0 + lid.x * RN;
    for (var e = 0u; e < RM * RN; e = e + 1u) {
        let r = e / RN;
        let c = e % RN;
        put(bi, i + r, j + c, accs[r * RN4 + c / 4u][c % 4u], m, n);
    }
}
