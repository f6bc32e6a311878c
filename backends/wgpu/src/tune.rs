//! The tiled matmul's autotuner: which [`TiledConfig`] an adapter runs fastest, measured once
//! and remembered in a small text file.
//!
//! A device picks its shape at its first tiled matmul (or at [`WgpuBackend::tiled_config`] /
//! [`WgpuBackend::autotune`]): `ACCEL_WGPU_TUNE=0` takes [`TiledConfig::DEFAULT`]; otherwise
//! the choice already made in this process for the same adapter, else the cache file's, else
//! a measurement. The measurement checks each candidate's result once against the default
//! shape's, times every candidate on three probe shapes in interleaved rounds (best of the
//! rounds, a few seconds on lavapipe in all) and keeps the default unless another shape is 3 %
//! faster on average. The cache file (`ACCEL_WGPU_TUNE_CACHE`, else
//! `$XDG_CACHE_HOME/accel/wgpu-tune.toml`, else `~/.cache/accel/wgpu-tune.toml`) holds one
//! `"key" = "shape"` line per adapter, keyed by adapter name, backend, driver, PCI ids and
//! accel version. Nothing here fails an op: a missing, corrupt or unwritable cache, or a
//! measurement that errs, leaves the default in place.

use crate::backend::WgpuBackend;
use crate::buffer::WgpuBuffer;
use crate::ops::{Lowering, lower};
use accel_core::op::{EpilogueDesc, MatmulDesc};
use accel_core::{Backend, DType, Error, Op, Operand, Operands, Result, View};
use accel_kernels::wgsl::TiledConfig;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Set to `0`, devices skip tuning and run [`TiledConfig::DEFAULT`].
pub const TUNE_ENV: &str = "ACCEL_WGPU_TUNE";
/// The tuning cache file's path (empty: keep choices in memory only).
pub const TUNE_CACHE_ENV: &str = "ACCEL_WGPU_TUNE_CACHE";

/// Probe shapes (m, k, n) at scale 1: square, short and wide, tall and narrow.
const PROBES: [[usize; 3]; 3] = [[256, 256, 256], [64, 512, 256], [512, 128, 64]];
/// Probe shapes grow (×2, up to ×8) while the default runs the square one faster than this,
/// so a fast GPU is timed on work rather than on launch overhead.
const MIN_PROBE_TIME: Duration = Duration::from_millis(2);
/// Timing rounds, and the wall-clock budget after which no new round starts.
const ROUNDS: usize = 3;
const BUDGET: Duration = Duration::from_secs(4);
/// Another shape replaces the default only when this much faster (mean time ratio).
const MARGIN: f64 = 0.97;

/// What [`WgpuBackend::autotune`] measured and chose.
#[derive(Clone, Debug)]
pub struct TuneReport {
    /// The shape adopted.
    pub chosen: TiledConfig,
    /// The probe shapes `[m, k, n]`.
    pub probes: Vec<[usize; 3]>,
    /// Each candidate with its best time per probe shape, or why it was dropped (a compile
    /// error, a result that differs from the default shape's).
    pub candidates: Vec<(TiledConfig, std::result::Result<Vec<Duration>, String>)>,
    /// Where the choice was stored, or why it was not.
    pub cache: std::result::Result<PathBuf, String>,
}

/// Choices made in this process, by adapter key. Held while tuning, so devices on one adapter
/// opened side by side (parallel tests) tune once and do not time each other.
static CHOSEN: Mutex<Option<HashMap<String, TiledConfig>>> = Mutex::new(None);

/// The shape `backend` should use: see the module docs. `None` when no candidate fits the
/// adapter (the generic kernel then runs every matmul).
pub(crate) fn choose(backend: &WgpuBackend) -> Option<TiledConfig> {
    let cands = backend.tiled_candidates();
    let fallback = *cands.first()?;
    if std::env::var(TUNE_ENV).is_ok_and(|v| v.trim() == "0") {
        return Some(fallback);
    }
    let key = backend.adapter_key();
    let mut memo = CHOSEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = memo.get_or_insert_with(HashMap::new).get(key) {
        return Some(*c);
    }
    let path = cache_path();
    let cached = path.as_deref().and_then(|p| read_cache(p, key)).and_then(|n| TiledConfig::from_name(&n));
    let chosen = match cached.filter(|c| cands.contains(c)) {
        Some(c) => c,
        None => match measure(backend, &cands) {
            Ok(mut report) => {
                report.cache = store(path.as_deref(), key, report.chosen);
                report.chosen
            }
            Err(_) => fallback,
        },
    };
    memo.get_or_insert_with(HashMap::new).insert(key.to_string(), chosen);
    Some(chosen)
}

/// Measures now (ignoring any cache), stores the choice and returns the report.
pub(crate) fn autotune(backend: &WgpuBackend) -> Result<TuneReport> {
    let cands = backend.tiled_candidates();
    if cands.is_empty() {
        return Err(Error::invalid(
            "autotune",
            "adapter",
            "room for a tiled-matmul workgroup",
            format!("{:?}", backend.workgroup_limits()),
        ));
    }
    let mut memo = CHOSEN.lock().unwrap_or_else(|p| p.into_inner());
    let mut report = measure(backend, &cands)?;
    report.cache = store(cache_path().as_deref(), backend.adapter_key(), report.chosen);
    memo.get_or_insert_with(HashMap::new).insert(backend.adapter_key().to_string(), report.chosen);
    Ok(report)
}

/// The cache file (see the module docs); `None` when no location is known or it is disabled.
pub(crate) fn cache_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(TUNE_CACHE_ENV) {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    let dir = match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?).join(".cache"),
    };
    Some(dir.join("accel").join("wgpu-tune.toml"))
}

/// Keys and values are written between double quotes; these characters cannot appear inside.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c == '"' || c == '\\' || c.is_control() { '\'' } else { c }).collect()
}

/// The `"key" = "value"` lines of a cache file's text that parse; the rest is ignored.
fn entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (k, v) = line.trim().strip_prefix('"')?.split_once("\" = \"")?;
            Some((k.to_string(), v.strip_suffix('"')?.to_string()))
        })
        .collect()
}

/// The shape name stored for `key` in the file at `path`, if the file reads and has one.
pub(crate) fn read_cache(path: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let key = clean(key);
    entries(&text).into_iter().rev().find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// Writes `key = name` into the file at `path`, keeping its other entries: through a
/// temporary file and a rename, so a concurrent reader sees the old file or the new one.
pub(crate) fn write_cache(path: &Path, key: &str, name: &str) -> std::io::Result<()> {
    let key = clean(key);
    let mut kept = std::fs::read_to_string(path).map(|t| entries(&t)).unwrap_or_default();
    kept.retain(|(k, _)| *k != key);
    kept.push((key, clean(name)));
    let mut text = String::from(
        "# accel: the wgpu backend's tiled-matmul shape per adapter, chosen by its autotuner.\n\
         # Delete a line (or the file) to tune again; ACCEL_WGPU_TUNE=0 skips tuning.\n",
    );
    for (k, v) in kept {
        text.push_str(&format!("\"{k}\" = \"{v}\"\n"));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn store(path: Option<&Path>, key: &str, chosen: TiledConfig) -> std::result::Result<PathBuf, String> {
    let path = path.ok_or_else(|| format!("no cache location ({TUNE_CACHE_ENV}, XDG_CACHE_HOME and HOME unset)"))?;
    write_cache(path, key, &chosen.name()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}

/// One probe matmul: c = a·b on contiguous f32 operands resident on the device.
struct Probe {
    op: Op,
    views: [View; 3],
    bufs: [WgpuBuffer; 3],
}

impl Probe {
    fn new(backend: &WgpuBackend, [m, k, n]: [usize; 3], seed: u64) -> Result<Probe> {
        let op = Op::Matmul(MatmulDesc {
            batch: Vec::new(),
            m,
            n,
            k,
            dtype: DType::F32,
            b_dtype: DType::F32,
            out_dtype: DType::F32,
            alpha: 1.0,
            beta: 0.0,
            zero_points: (0, 0),
            epilogue: EpilogueDesc::default(),
        });
        let views = [[m, k], [k, n], [m, n]].map(|s| View::contiguous("autotune", &s));
        let [va, vb, vc] = views;
        let views = [va?, vb?, vc?];
        let bufs = [m * k, k * n, m * n].map(|len| backend.alloc(len * 4));
        let [a, b, c] = bufs;
        let bufs = [a?, b?, c?];
        for (i, len) in [m * k, k * n].into_iter().enumerate() {
            backend.write(&bufs[i], 0, bytemuck::cast_slice(&values(len, seed + i as u64)))?;
        }
        Ok(Probe { op, views, bufs })
    }

    /// Runs the product with `tile` and waits for it.
    fn run(&self, backend: &WgpuBackend, tile: TiledConfig) -> Result<()> {
        let operand = |i: usize| Operand { buffer: &self.bufs[i], view: &self.views[i], dtype: DType::F32 };
        let operands = Operands { inputs: vec![operand(0), operand(1)], output: operand(2) };
        let low = Lowering {
            tiled_matmul: true,
            tile: Some(tile),
            vec4: [true, true],
            fast_conv: true,
            max_groups: backend.max_workgroups_per_dimension(),
            dot4: false,
        };
        let kernel = lower(&self.op, self.views[2].numel(), 0, true, low)
            .filter(|k| k.groups.is_some())
            .ok_or_else(|| Error::invalid("autotune", "probe", "a shape the tiled kernel takes", tile.name()))?;
        backend.dispatch_kernel(&self.op, kernel, &operands)?;
        backend.synchronize()
    }

    fn time(&self, backend: &WgpuBackend, tile: TiledConfig) -> Result<Duration> {
        let start = Instant::now();
        self.run(backend, tile)?;
        Ok(start.elapsed())
    }

    fn result(&self, backend: &WgpuBackend) -> Result<Vec<f32>> {
        let mut bytes = vec![0u8; self.views[2].numel() * 4];
        backend.read(&self.bufs[2], 0, &mut bytes)?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Times `cands` (the first is the reference) and picks one; see the module docs.
fn measure(backend: &WgpuBackend, cands: &[TiledConfig]) -> Result<TuneReport> {
    let start = Instant::now();
    let reference = cands[0];
    // Scale the probes until the reference's square product takes MIN_PROBE_TIME.
    let mut scale = 1;
    let mut probes = probe_set(backend, scale)?;
    probes[0].run(backend, reference)?;
    while scale < 8 && probes[0].time(backend, reference)? < MIN_PROBE_TIME {
        scale *= 2;
        probes = probe_set(backend, scale)?;
        probes[0].run(backend, reference)?;
    }
    let want = probes[0].result(backend)?;
    // Compile each candidate and check its result once; drop those that fail.
    let mut state: Vec<std::result::Result<Vec<Duration>, String>> = cands
        .iter()
        .map(|&c| {
            probes[0].run(backend, c).map_err(|e| e.to_string())?;
            let got = probes[0].result(backend).map_err(|e| e.to_string())?;
            match got.iter().zip(&want).position(|(x, y)| (x - y).abs() > 1e-4 * (1.0 + y.abs())) {
                Some(i) => Err(format!("element {i}: {} where the default shape gives {}", got[i], want[i])),
                None => Ok(vec![Duration::MAX; probes.len()]),
            }
        })
        .collect();
    if state[0].is_err() {
        return Err(Error::Backend {
            backend: "wgpu".into(),
            message: format!("autotune: the reference shape {} failed", reference.name()),
        });
    }
    for round in 0..ROUNDS {
        if round > 0 && start.elapsed() > BUDGET {
            break;
        }
        for (c, times) in cands.iter().zip(state.iter_mut()) {
            let Ok(best) = times else { continue };
            for (p, probe) in probes.iter().enumerate() {
                match probe.time(backend, *c) {
                    Ok(t) => best[p] = best[p].min(t),
                    Err(e) => {
                        *times = Err(e.to_string());
                        break;
                    }
                }
            }
        }
    }
    let base = state[0].clone().unwrap_or_default();
    let score = |t: &Vec<Duration>| -> f64 {
        t.iter().zip(&base).map(|(x, b)| x.as_secs_f64() / b.as_secs_f64().max(1e-9)).sum::<f64>() / t.len() as f64
    };
    let mut chosen = (reference, 1.0);
    for (c, t) in cands.iter().zip(&state) {
        if let Ok(t) = t {
            let s = score(t);
            if s < chosen.1 * if chosen.0 == reference { MARGIN } else { 1.0 } {
                chosen = (*c, s);
            }
        }
    }
    let shapes = probes.iter().map(|p| match &p.op {
        Op::Matmul(d) => [d.m, d.k, d.n],
        _ => [0; 3],
    });
    Ok(TuneReport {
        chosen: chosen.0,
        probes: shapes.collect(),
        candidates: cands.iter().copied().zip(state).collect(),
        cache: Err("not stored".into()),
    })
}

fn probe_set(backend: &WgpuBackend, scale: usize) -> Result<Vec<Probe>> {
    PROBES.iter().enumerate().map(|(i, s)| Probe::new(backend, s.map(|d| d * scale), 2 * i as u64)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("accel-tune-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("sub").join("wgpu-tune.toml")
    }

    #[test]
    fn cache_round_trips_and_keeps_other_adapters() {
        let path = scratch("round");
        assert_eq!(read_cache(&path, "gpu a"), None, "missing file");
        write_cache(&path, "gpu a | vulkan | accel 0.1.0", "64x64-4x4-k16").unwrap();
        write_cache(&path, "gpu \"b\"\n", "128x64-8x4-k16").unwrap();
        write_cache(&path, "gpu a | vulkan | accel 0.1.0", "32x32-4x4-k16").unwrap();
        assert_eq!(read_cache(&path, "gpu a | vulkan | accel 0.1.0").as_deref(), Some("32x32-4x4-k16"));
        assert_eq!(read_cache(&path, "gpu \"b\"\n").as_deref(), Some("128x64-8x4-k16"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().filter(|l| l.starts_with('"')).count(), 2, "{text}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn corrupt_or_unwritable_caches_are_ignored() {
        let path = scratch("corrupt");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"\xff\xfe not utf-8 \"k\" = \"v\"").unwrap();
        assert_eq!(read_cache(&path, "k"), None);
        std::fs::write(&path, "garbage\n\"k\" = \n\"k\" = \"64x64-4x4-k16\"\n\"k = \"x\"\n[table]\n").unwrap();
        assert_eq!(read_cache(&path, "k").as_deref(), Some("64x64-4x4-k16"));
        // Rewriting keeps the valid entry and drops the junk.
        write_cache(&path, "j", "32x32-4x4-k16").unwrap();
        assert_eq!(entries(&std::fs::read_to_string(&path).unwrap()).len(), 2);
        // A path under a regular file cannot be created: an error, never a panic.
        let blocked = path.join("below-a-file.toml");
        assert!(write_cache(&blocked, "k", "v").is_err());
        assert!(store(Some(&blocked), "k", TiledConfig::DEFAULT).is_err());
        assert!(store(None, "k", TiledConfig::DEFAULT).is_err());
        assert_eq!(read_cache(&blocked, "k"), None);
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn cached_names_outside_the_menu_are_not_shapes() {
        assert_eq!(TiledConfig::from_name("64x64-4x4-k15"), None);
        assert_eq!(TiledConfig::from_name(&TiledConfig::DEFAULT.name()), Some(TiledConfig::DEFAULT));
    }
}
