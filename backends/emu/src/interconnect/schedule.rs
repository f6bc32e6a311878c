//! The message schedule of each collective and algorithm: what every rank sends in each step
//! (bytes per message, ring distances of the peers), from which [`super::Interconnect`] prices
//! each step on its topology. On a fully connected network these reduce exactly to the α-β
//! formulas of collectives.md §b.2 (tests check that).

use accel_core::comm::{Algorithm, Collective, CostQuery};

/// One step: every rank sends one message of `bytes` to the peer at each ring distance in
/// `distances` (all at once), and reduces what it receives when `reduces` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Bytes per message.
    pub bytes: u64,
    /// Ring distances `(peer − rank) mod p` of this step's messages.
    pub distances: Vec<usize>,
    /// Whether received data is reduced (the γ term).
    pub reduces: bool,
}

fn steps(count: usize, bytes: u64, distance: usize, reduces: bool) -> impl Iterator<Item = Step> {
    (0..count).map(move |_| Step { bytes, distances: vec![distance], reduces })
}

/// Recursive halving (`halve`) or doubling over the largest power of two ≤ `p`: step `k`
/// exchanges `bytes(k)` with the partner at distance `2^k`-ish (halving starts far).
fn halving_doubling(p: usize, total: u64, reduces: bool, halve: bool) -> Vec<Step> {
    let lg = p.ilog2() as usize;
    let pow = 1usize << lg;
    let mut out: Vec<Step> = (1..=lg).map(|k| Step { bytes: total >> k, distances: vec![pow >> k], reduces }).collect();
    if !halve {
        out.reverse();
    }
    out
}

/// The steps one rank performs for `query` (the same on every rank: the patterns are
/// symmetric, except rooted calls, which are modeled by their critical path).
pub fn schedule(query: &CostQuery) -> Vec<Step> {
    let p = query.ranks;
    if p <= 1 {
        return Vec::new();
    }
    let s = query.bytes;
    let chunk = s.div_ceil(p as u64);
    let lg = p.next_power_of_two().ilog2() as usize;
    let all: Vec<usize> = (1..p).collect();
    let pow = 1usize << p.ilog2();
    // Non-power-of-two p: the extra ranks fold their data into a partner first and get the
    // result back at the end (MPICH's scheme), each a full-size message.
    let fold_in = |reduces| (pow != p).then(|| Step { bytes: s, distances: vec![1], reduces });
    match (query.collective, query.algorithm) {
        (Collective::Barrier, Algorithm::Ring) => steps(p - 1, 0, 1, false).collect(),
        (Collective::Barrier, Algorithm::Direct) => vec![Step { bytes: 0, distances: all, reduces: false }],
        // Dissemination barrier: ⌈lg p⌉ rounds of empty messages.
        (Collective::Barrier, _) => {
            (0..lg).map(|k| Step { bytes: 0, distances: vec![1 << k], reduces: false }).collect()
        }

        (Collective::AllReduce { .. }, Algorithm::Ring) => {
            steps(p - 1, chunk, 1, true).chain(steps(p - 1, chunk, 1, false)).collect()
        }
        (Collective::AllReduce { .. }, Algorithm::Direct) => vec![
            Step { bytes: chunk, distances: all.clone(), reduces: true },
            Step { bytes: chunk, distances: all, reduces: false },
        ],
        // Rabenseifner: reduce-scatter by recursive halving, all-gather by recursive doubling.
        (Collective::AllReduce { .. }, _) => {
            let pre = fold_in(true);
            let post = fold_in(false);
            pre.into_iter()
                .chain(halving_doubling(p, s, true, true))
                .chain(halving_doubling(p, s, false, false))
                .chain(post)
                .collect()
        }

        (Collective::ReduceScatter { .. } | Collective::AllGather, algorithm) => {
            let reduces = matches!(query.collective, Collective::ReduceScatter { .. });
            match algorithm {
                Algorithm::Ring => steps(p - 1, chunk, 1, reduces).collect(),
                Algorithm::Direct => vec![Step { bytes: chunk, distances: all, reduces }],
                _ => {
                    let extra = fold_in(reduces).map(|st| Step { bytes: st.bytes / p as u64, ..st });
                    let hd = halving_doubling(p, s, reduces, reduces);
                    extra.into_iter().chain(hd).collect()
                }
            }
        }

        // Rooted calls: the critical path of the root's data (or of the data reaching it).
        (Collective::Broadcast { .. } | Collective::Reduce { .. }, algorithm) => {
            let reduces = matches!(query.collective, Collective::Reduce { .. });
            match algorithm {
                // A pipelined chain: p − 1 hops of latency, the data once over each link.
                Algorithm::Ring => {
                    let mut v: Vec<Step> = steps(p - 2, 0, 1, false).collect();
                    v.push(Step { bytes: s, distances: vec![1], reduces });
                    v
                }
                Algorithm::Direct => vec![Step { bytes: s, distances: all, reduces }],
                // Binomial tree: ⌈lg p⌉ rounds, the whole message each round.
                _ => (0..lg).map(|k| Step { bytes: s, distances: vec![1 << k], reduces }).collect(),
            }
        }

        // Pairwise exchange: p − 1 rounds, one block to the peer at distance k in round k.
        (Collective::AllToAll, Algorithm::Direct | Algorithm::Auto) => {
            vec![Step { bytes: chunk, distances: all, reduces: false }]
        }
        (Collective::AllToAll, _) => {
            (1..p).map(|k| Step { bytes: chunk, distances: vec![k], reduces: false }).collect()
        }
    }
}
