// Unary, binary and cast over strided views (or, when every view is dense, at linear offsets:
// the prelude's `ioff`): one invocation per output element.
// The host prelude defines KIND (0 unary, 1 binary, 2 cast) and `apply(i, oe)`, which loads the
// inputs of logical element i, computes and stores into output element offset oe.
// Header: p[0] = element count.

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= pu(0u)) { return; }
    apply(i, ioff(4u, i));
}
