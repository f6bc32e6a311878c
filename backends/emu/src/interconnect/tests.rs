use super::*;
use accel_core::DType;
use accel_core::comm::{Algorithm, Collective, ReduceOp};

fn query(collective: Collective, algorithm: Algorithm, ranks: usize, bytes: u64) -> CostQuery {
    CostQuery { collective, algorithm, ranks, rank: 0, bytes, dtype: DType::F32 }
}

const AR: Collective = Collective::AllReduce { op: ReduceOp::Sum };

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

#[test]
fn fully_connected_matches_the_alpha_beta_formulas() {
    let link = Link { name: "t", bandwidth_gbs: 10.0, latency_us: 2.0, pj_per_byte: 1.0 };
    let net = Interconnect::new(Topology::FullyConnected, link);
    let (a, b) = (2e-6, 1.0 / 10e9);
    for p in [2usize, 4, 8] {
        let n = 64u64 << 20;
        let pf = p as f64;
        let lg = pf.log2();
        let ring = net.estimate(&query(AR, Algorithm::Ring, p, n)).seconds;
        assert!(close(ring, 2.0 * (pf - 1.0) * a + 2.0 * (pf - 1.0) / pf * n as f64 * b), "ring p={p}");
        let tree = net.estimate(&query(AR, Algorithm::Tree, p, n)).seconds;
        assert!(close(tree, 2.0 * lg * a + 2.0 * (pf - 1.0) / pf * n as f64 * b), "rabenseifner p={p}");
        let ag = net.estimate(&query(Collective::AllGather, Algorithm::Ring, p, n)).seconds;
        assert!(close(ag, (pf - 1.0) * a + (pf - 1.0) / pf * n as f64 * b), "ring all-gather p={p}");
        let bc = net.estimate(&query(Collective::Broadcast { root: 0 }, Algorithm::Tree, p, n)).seconds;
        assert!(close(bc, lg * (a + n as f64 * b)), "binomial broadcast p={p}");
        let bar = net.estimate(&query(Collective::Barrier, Algorithm::Tree, p, 0)).seconds;
        assert!(close(bar, lg.ceil() * a), "dissemination barrier p={p}");
    }
}

#[test]
fn ring_busbw_converges_to_the_link_bandwidth() {
    let net = Interconnect::new(Topology::Ring, Link::NPU_RING);
    let n = 1u64 << 30;
    let t = net.estimate(&query(AR, Algorithm::Ring, 8, n)).seconds;
    let busbw = n as f64 / t * 2.0 * 7.0 / 8.0 / 1e9;
    assert!((busbw - 50.0).abs() < 0.1, "busbw {busbw} GB/s on 50 GB/s links");
}

#[test]
fn a_ring_loses_to_a_switch_on_far_exchanges_and_not_on_the_ring_algorithm() {
    let link = Link::NPU_RING;
    let ring = Interconnect::new(Topology::Ring, link);
    let switch = Interconnect::new(Topology::Switch, link);
    let n = 256u64 << 20;
    let q = |alg| query(AR, alg, 8, n);
    // The ring algorithm only uses neighbours: the ring topology is at least as fast as a switch
    // (one hop instead of two).
    assert!(ring.estimate(&q(Algorithm::Ring)).seconds <= switch.estimate(&q(Algorithm::Ring)).seconds);
    // Halving-doubling talks to distance-4 peers first: links carry several messages on a ring.
    assert!(ring.estimate(&q(Algorithm::Tree)).seconds > switch.estimate(&q(Algorithm::Tree)).seconds);
    // Direct exchanges with every peer at once: the ring is congested, the switch port serializes.
    let fc = Interconnect::new(Topology::FullyConnected, link);
    assert!(fc.estimate(&q(Algorithm::Direct)).seconds < switch.estimate(&q(Algorithm::Direct)).seconds);
}

#[test]
fn costs_carry_time_energy_and_link_bytes() {
    let net = Interconnect::new(Topology::Switch, Link::NVLINK4);
    let c = net.cost(&query(AR, Algorithm::Ring, 4, 1 << 20)).expect("priced");
    assert!(c.seconds > 0.0 && c.energy_pj() > 0.0);
    assert_eq!(c.bytes_at("link"), Some(2 * 2 * 3 * (1u64 << 18)));
    assert!(c.unit.contains("switch") && c.unit.contains("ring"));
    assert!(c.utilization > 0.0 && c.utilization <= 1.0);
    assert_eq!(net.cost(&query(AR, Algorithm::Ring, 1, 1 << 20)).unwrap().seconds, 0.0);
    assert!(Link::ALL.iter().all(|l| Link::by_name(l.name) == Some(*l)));
}
