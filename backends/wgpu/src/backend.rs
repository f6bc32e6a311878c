//! [`WgpuBackend`]: one opened adapter. Buffers, the pipeline cache, dispatch (one compute pass
//! per op, one dispatch per piece `split.rs` plans), readback and the error state (uncaptured
//! validation / out-of-memory errors and device loss are recorded by wgpu's callbacks and
//! returned by the next call).

use crate::buffer::{Pool, WgpuBuffer};
use crate::ops::{Kernel, Lowering, loop_trips, lower, vec4_rows};
use crate::split::{self, Arg, Piece, Sub};
use crate::tune::{self, TuneReport};
use accel_core::{Backend, Capabilities, DeviceInfo, DeviceKind, Error, ExecReport, Op, Operands, Result};
use accel_kernels::wgsl::{self, TiledConfig, WorkgroupLimits};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wgpu::util::DeviceExt;

/// Workgroup size of every kernel (see `common.wgsl`'s `linear_id`).
const WORKGROUP: usize = 64;
/// Rounds of (poll, wait 100 ms) a readback waits for its mapping callback: 10 minutes.
const MAP_WAIT_ROUNDS: usize = 6000;
/// Input bindings every kernel layout has.
const INPUT_SLOTS: usize = 4;

/// Set to `1`, devices time every op with timestamp queries where the adapter offers them
/// (see [`WgpuBackend::set_gpu_timing`]).
pub const TIMESTAMPS_ENV: &str = "ACCEL_WGPU_TIMESTAMPS";

/// What went wrong asynchronously, if anything.
#[derive(Default)]
struct Faults {
    lost: Option<String>,
    error: Option<(bool, String)>,
}

/// Injects faults into one backend (see [`WgpuBackend::fault_injector`]).
#[derive(Clone)]
pub struct FaultInjector(Arc<Mutex<Faults>>, wgpu::Device);

impl FaultInjector {
    /// Every later call on the device returns `Error::DeviceLost` (the backend's own flag; the
    /// wgpu device stays intact).
    pub fn lose_device(&self) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.lost.get_or_insert("simulated device loss".into());
    }

    /// Destroys the wgpu device itself (`wgpu::Device::destroy`), as a driver reset would.
    /// wgpu reports the loss through the device-lost callback once its queue is idle; every
    /// later call returns an error (`Error::DeviceLost` from then on).
    pub fn destroy_device(&self) {
        self.1.destroy();
        // The callback fires from the device's maintenance: run one round now. Its result is
        // the loss itself, which the next call reports.
        let _ = self.1.poll(wgpu::PollType::Poll);
    }
}

impl fmt::Debug for FaultInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FaultInjector")
    }
}

/// One wgpu adapter as an accel backend.
pub struct WgpuBackend {
    info: DeviceInfo,
    caps: Capabilities,
    device: wgpu::Device,
    queue: wgpu::Queue,
    layout: wgpu::BindGroupLayout,
    pipeline_layout: wgpu::PipelineLayout,
    pipelines: Mutex<HashMap<String, wgpu::ComputePipeline>>,
    pool: Arc<Pool>,
    faults: Arc<Mutex<Faults>>,
    dummy: wgpu::Buffer,
    max_binding: u64,
    split_binding: AtomicU64,
    launches: Arc<AtomicU64>,
    max_buffer: u64,
    offset_align: u64,
    max_groups: u32,
    /// Packed 4x8-bit dot products in WGSL (the int8 tiled matmul).
    dot4: bool,
    tiled_matmul: AtomicBool,
    /// The tiled matmul's shape: `None` until chosen (see `tune.rs`), then `Some(None)` where
    /// no shape fits the adapter.
    tile: Mutex<Option<Option<TiledConfig>>>,
    vec4_loads: AtomicBool,
    limits: WorkgroupLimits,
    /// Adapter name, backend, driver, PCI ids and accel version: the tuning cache's key.
    adapter_key: String,
    /// Loop trips one invocation may run before the driver cuts its loops off (llvmpipe:
    /// 65,535 in total per invocation), less room for the kernels' own bookkeeping.
    loop_budget: Option<usize>,
    fast_conv: AtomicBool,
    gpu_timing: AtomicBool,
}

impl fmt::Debug for WgpuBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WgpuBackend").field("info", &self.info).field("max_binding", &self.max_binding).finish()
    }
}

fn short_name(name: &str) -> String {
    name.split([' ', '(']).find(|s| !s.is_empty()).unwrap_or("gpu").to_lowercase()
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl WgpuBackend {
    /// Opens adapter number `index` with its own limits.
    /// `dot4` says whether the instance's WGSL front end offers packed 4x8-bit dot products.
    pub(crate) fn open(index: usize, adapter: &wgpu::Adapter, dot4: bool) -> Result<WgpuBackend> {
        let ainfo = adapter.get_info();
        let limits = adapter.limits();
        let wanted = wgpu::Features::TIMESTAMP_QUERY;
        let desc = wgpu::DeviceDescriptor {
            label: Some("accel"),
            required_features: adapter.features() & wanted,
            required_limits: limits.clone(),
            ..Default::default()
        };
        let name = format!("wgpu:{index}:{}", short_name(&ainfo.name));
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| Error::Backend { backend: "wgpu".into(), message: format!("{name}: {e}") })?;
        let faults = Arc::new(Mutex::new(Faults::default()));
        let f = faults.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let oom = matches!(e, wgpu::Error::OutOfMemory { .. });
            let mut g = f.lock().unwrap_or_else(|p| p.into_inner());
            g.error.get_or_insert((oom, e.to_string()));
        }));
        let f = faults.clone();
        device.set_device_lost_callback(move |reason, msg| {
            let mut g = f.lock().unwrap_or_else(|p| p.into_inner());
            g.lost.get_or_insert(format!("{reason:?}: {msg}"));
        });
        let mut entries = vec![storage_entry(0, true)];
        entries.extend((1..=INPUT_SLOTS as u32).map(|b| storage_entry(b, true)));
        entries.push(storage_entry(INPUT_SLOTS as u32 + 1, false));
        let layout = device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some("accel"), entries: &entries });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("accel"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let dummy = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("accel-dummy"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let max_binding = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        // Whole words: a buffer's size is its byte count rounded up to a multiple of 4.
        let max_buffer = limits.max_buffer_size & !3;
        let info = DeviceInfo {
            name,
            kind: DeviceKind::Gpu,
            backend: "wgpu".into(),
            emulated: false,
            peak_gflops: None,
            peak_bandwidth_gbs: None,
        };
        let caps = Capabilities::full_contract(usize::try_from(max_buffer).unwrap_or(usize::MAX));
        let adapter_key = format!(
            "{} | {:?} | {} | {} | {:04x}:{:04x} | accel {}",
            ainfo.name,
            ainfo.backend,
            ainfo.driver,
            ainfo.driver_info,
            ainfo.vendor,
            ainfo.device,
            env!("CARGO_PKG_VERSION")
        );
        let wg_limits = WorkgroupLimits {
            invocations: limits.max_compute_invocations_per_workgroup,
            size_x: limits.max_compute_workgroup_size_x,
            size_y: limits.max_compute_workgroup_size_y,
            storage_bytes: limits.max_compute_workgroup_storage_size,
        };
        Ok(WgpuBackend {
            info,
            caps,
            device,
            queue,
            layout,
            pipeline_layout,
            pipelines: Mutex::new(HashMap::new()),
            pool: Arc::new(Pool::default()),
            faults,
            dummy,
            max_binding,
            split_binding: AtomicU64::new(max_binding),
            launches: Arc::new(AtomicU64::new(0)),
            max_buffer,
            offset_align: u64::from(limits.min_storage_buffer_offset_alignment).max(4),
            max_groups: limits.max_compute_workgroups_per_dimension.max(1),
            dot4,
            tiled_matmul: AtomicBool::new(true),
            tile: Mutex::new(None),
            vec4_loads: AtomicBool::new(true),
            limits: wg_limits,
            adapter_key,
            loop_budget: is_llvmpipe(&ainfo).then_some(LLVMPIPE_LOOP_BUDGET),
            fast_conv: AtomicBool::new(true),
            gpu_timing: AtomicBool::new(std::env::var(TIMESTAMPS_ENV).is_ok_and(|v| v == "1")),
        })
    }

    /// The adapter's storage binding limit in bytes: the most one kernel binding spans. Ops on
    /// larger buffers run in pieces (see the crate docs).
    pub fn max_binding_bytes(&self) -> u64 {
        self.max_binding
    }

    /// The largest buffer in bytes (the adapter's `max_buffer_size`, whole words): the largest
    /// tensor this device holds.
    pub fn max_buffer_bytes(&self) -> u64 {
        self.max_buffer
    }

    /// Lowers the binding size ops are split by to `bytes` (capped at the adapter's limit;
    /// `u64::MAX` restores it), so tests can split small tensors into many pieces.
    #[doc(hidden)]
    pub fn set_split_binding_limit(&self, bytes: u64) {
        self.split_binding.store(bytes.min(self.max_binding), Ordering::Relaxed);
    }

    /// Counts the kernel dispatches this device has submitted (one per op, more for split ops),
    /// so tests can see a split happen after the backend moved into a `Device`.
    #[doc(hidden)]
    pub fn dispatch_counter(&self) -> Arc<AtomicU64> {
        self.launches.clone()
    }

    /// The adapter's workgroups per grid dimension (`max_compute_workgroups_per_dimension`).
    /// Dispatches needing more fold into a second dimension; the tiled matmul, whose grid is
    /// (n/64, m/64, batch), falls back to the generic kernel when a dimension would overflow.
    pub fn max_workgroups_per_dimension(&self) -> u32 {
        self.max_groups
    }

    /// Chooses the matmul kernel: the tiled one (the default, where the shape allows; for int8,
    /// where WGSL offers packed 4x8-bit dot products) or, with `false`, the generic
    /// one-invocation-per-output kernel. For A/B benchmarks and tests; float results agree
    /// within the contract's tolerance either way, int8 results bit for bit.
    pub fn set_tiled_matmul(&self, on: bool) {
        self.tiled_matmul.store(on, Ordering::Relaxed);
    }

    /// The tiled matmul's shape on this device, chosen now if not yet (from this process's
    /// earlier choice for the adapter, the tuning cache, or a measurement of a few seconds:
    /// see [`crate::tune`]); `None` when no shape fits the adapter's workgroup limits.
    pub fn tiled_config(&self) -> Option<TiledConfig> {
        let mut g = self.tile.lock().unwrap_or_else(|p| p.into_inner());
        *g.get_or_insert_with(|| tune::choose(self))
    }

    /// Times every candidate shape of the tiled matmul on this adapter now (ignoring the
    /// cache), adopts the fastest for this device and stores it in the tuning cache; the
    /// report says what was measured and where the choice went. Errors when the adapter fits
    /// no shape or the device fails; the device's shape is unchanged then.
    pub fn autotune(&self) -> Result<TuneReport> {
        let report = tune::autotune(self)?;
        *self.tile.lock().unwrap_or_else(|p| p.into_inner()) = Some(Some(report.chosen));
        Ok(report)
    }

    /// The tiled-matmul shapes this adapter can run ([`TiledConfig::CANDIDATES`] that fit its
    /// workgroup limits), [`TiledConfig::DEFAULT`] first where it fits.
    pub fn tiled_candidates(&self) -> Vec<TiledConfig> {
        TiledConfig::CANDIDATES.into_iter().filter(|c| c.fits(&self.limits)).collect()
    }

    /// The adapter's compute workgroup limits.
    pub fn workgroup_limits(&self) -> WorkgroupLimits {
        self.limits
    }

    /// Forces the tiled matmul's shape (tests and benchmarks; skips tuning). Errors when the
    /// shape does not fit the adapter.
    #[doc(hidden)]
    pub fn set_tiled_config(&self, tile: TiledConfig) -> Result<()> {
        if !tile.fits(&self.limits) {
            return Err(Error::invalid(
                "set_tiled_config",
                "tile",
                format!("a shape within {:?}", self.limits),
                format!("{tile:?}"),
            ));
        }
        *self.tile.lock().unwrap_or_else(|p| p.into_inner()) = Some(Some(tile));
        Ok(())
    }

    /// With `false`, the tiled matmul loads every operand element by element even where rows
    /// allow 4-word loads (A/B runs of the vectorised loads).
    #[doc(hidden)]
    pub fn set_vec4_loads(&self, on: bool) {
        self.vec4_loads.store(on, Ordering::Relaxed);
    }

    /// Launches an already lowered kernel over operands that fit one binding each (the
    /// autotuner's probes).
    pub(crate) fn dispatch_kernel(&self, op: &Op, kernel: Kernel, operands: &Operands<'_, WgpuBuffer>) -> Result<()> {
        let name = op.kind().name();
        let args = split_args(operands);
        let lim = split::Limits { binding: self.max_binding, align: self.offset_align };
        let [piece] = &split::plan(op, &args, lim)?[..] else {
            return Err(Error::invalid(name, "operands", "one binding each", "operands past the binding limit"));
        };
        let launches = self.piece_launches(name, piece, operands, kernel)?;
        self.submit(name, &launches).map(drop)
    }

    pub(crate) fn adapter_key(&self) -> &str {
        &self.adapter_key
    }

    /// The tiled matmul's shape and vec4 operands for `op` (chosen only for float matmuls
    /// the tiled kernel may run, and for float convolutions, whose implicit GEMM uses the
    /// shape).
    fn matmul_lowering(&self, op: &Op, operands: &Operands<'_, WgpuBuffer>) -> (Option<TiledConfig>, [bool; 2]) {
        match op {
            Op::Matmul(d) if !d.is_int8() && self.tiled_matmul.load(Ordering::Relaxed) => {
                let vec = self.vec4_loads.load(Ordering::Relaxed);
                let rows = |i: usize| vec && operands.inputs.get(i).is_some_and(|o| vec4_rows(o.view, o.dtype));
                (self.tiled_config(), [rows(0), rows(1)])
            }
            // Float implicit-GEMM convolution stages its tiles in the same shape.
            Op::Conv(d) if d.dtype.is_float() && self.fast_conv.load(Ordering::Relaxed) => {
                (self.tiled_config(), [false; 2])
            }
            _ => (None, [false; 2]),
        }
    }

    /// Chooses the kernels of forward float convolutions: the implicit-GEMM and depthwise
    /// kernels (the default, where the shape allows) or, with `false`, the generic
    /// one-invocation-per-output kernel. For A/B benchmarks and tests.
    pub fn set_fast_conv(&self, on: bool) {
        self.fast_conv.store(on, Ordering::Relaxed);
    }

    /// True when the adapter offers timestamp queries (wgpu's `TIMESTAMP_QUERY`), so ops can
    /// report GPU time.
    pub fn has_timestamps(&self) -> bool {
        self.device.features().contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// With `true` (or `ACCEL_WGPU_TIMESTAMPS=1` at open) and an adapter with timestamp
    /// queries, every op brackets its compute pass with timestamps and waits for them, so its
    /// `ExecReport::device_time` (and the profiler's `OpRecord::device_time`) holds the GPU
    /// time. Off by default: waiting makes submission synchronous. Without the feature this
    /// does nothing and `device_time` stays `None`.
    pub fn set_gpu_timing(&self, on: bool) {
        self.gpu_timing.store(on, Ordering::Relaxed);
    }

    fn backend_err(&self, message: String) -> Error {
        Error::Backend { backend: "wgpu".into(), message: format!("{}: {message}", self.info.name) }
    }

    /// The first recorded asynchronous fault, as an error (device loss first).
    fn check(&self, op: &'static str, requested: usize) -> Result<()> {
        let mut g = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(reason) = &g.lost {
            return Err(Error::DeviceLost { device: self.info.name.clone(), reason: reason.clone() });
        }
        match g.error.take() {
            Some((true, _)) => Err(Error::OutOfMemory {
                op,
                requested,
                limit: self.caps.max_buffer_bytes,
                device: self.info.name.clone(),
            }),
            Some((false, msg)) => Err(self.backend_err(format!("{op}: {msg}"))),
            None => Ok(()),
        }
    }

    /// A handle that can mark this device lost as a driver reset would, for tests of the
    /// error path (keep it before moving the backend into a `Device`).
    pub fn fault_injector(&self) -> FaultInjector {
        FaultInjector(self.faults.clone(), self.device.clone())
    }

    fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| self.backend_err(format!("waiting for the device: {e}")))?;
        Ok(())
    }

    fn pipeline(&self, source: &str) -> Result<wgpu::ComputePipeline> {
        let mut cache = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(source) {
            return Ok(p.clone());
        }
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("accel"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("accel"),
            layout: Some(&self.pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        self.check("compile", 0)?;
        cache.insert(source.to_string(), pipeline.clone());
        Ok(pipeline)
    }

    /// Workgroup counts (x, y) covering `invocations`, folded under the per-dimension limit.
    fn grid(&self, op: &'static str, invocations: usize) -> Result<(u32, u32)> {
        let groups = invocations.div_ceil(WORKGROUP);
        let x = groups.min(self.max_groups as usize);
        let y = groups.div_ceil(x.max(1));
        if y > self.max_groups as usize {
            return Err(Error::invalid(op, "output", "at most 2^32 invocations", invocations.to_string()));
        }
        Ok((x as u32, y as u32))
    }

    /// The launches of one piece: its kernel (and a two-pass kernel's second pass) with
    /// encoded views, parameters and bind groups (none when the piece has no work).
    fn prepare(
        &self,
        op: &Op,
        piece: &Piece<'_>,
        operands: &Operands<'_, WgpuBuffer>,
        low: Lowering,
        dense: bool,
    ) -> Result<Vec<Launch>> {
        let name: &'static str = op.kind().name();
        let inputs = piece.views.len() - 1;
        let out = piece.views[inputs];
        let inner = match &*piece.op {
            Op::Reduce(d) => {
                let s = piece.views[..inputs].first().map_or(&[][..], |v| v.shape());
                s[s.len().saturating_sub(d.reduced_rank)..].iter().product()
            }
            Op::Softmax(_) => out.shape().last().copied().unwrap_or(0),
            _ => 0,
        };
        let kernel = lower(&piece.op, out.numel(), inner, dense, low).ok_or_else(|| Error::Unsupported {
            op: name,
            dtype: op.dtype(),
            backend: "wgpu".into(),
        })?;
        if let (Some(budget), Some(trips)) = (self.loop_budget, loop_trips(&piece.op, &kernel, out.numel(), inner))
            && trips > budget
        {
            // A longer loop would be cut short silently: refuse rather than return wrong values.
            return Err(Error::invalid(
                name,
                "shape",
                format!(
                    "at most {budget} loop trips per invocation on {} (llvmpipe stops a shader's loops \
                     after 65,535 in total)",
                    self.info.name
                ),
                format!("{trips} for this shape's reduction"),
            ));
        }
        self.piece_launches(name, piece, operands, kernel)
    }

    /// The launches of `kernel` over one piece's views and bindings (two for a two-pass
    /// kernel; none when it has no work).
    fn piece_launches(
        &self,
        name: &'static str,
        piece: &Piece<'_>,
        operands: &Operands<'_, WgpuBuffer>,
        mut kernel: Kernel,
    ) -> Result<Vec<Launch>> {
        let inputs = piece.views.len() - 1;
        let out = piece.views[inputs];
        if kernel.invocations == 0 {
            return Ok(Vec::new());
        }
        let mut views = [[0u32; wgsl::VIEW_WORDS]; 5];
        for (slot, view) in piece.views[..inputs].iter().enumerate() {
            views[slot] = encode_view(name, view)?;
        }
        views[4] = encode_view(name, &out)?;
        let mut resources: Vec<wgpu::BindingResource<'_>> = (0..INPUT_SLOTS)
            .map(|slot| match operands.inputs.get(slot) {
                Some(o) => binding(o.buffer.raw(), piece.ranges.get(slot).copied().flatten()),
                None => self.dummy.as_entire_binding(),
            })
            .collect();
        let output = binding(operands.output.buffer.raw(), piece.ranges[inputs]);
        let Some((words, merge)) = kernel.then.take() else {
            resources.push(output);
            return Ok(vec![self.launch(name, &kernel, &views, &resources, None)?]);
        };
        // Two passes: the first writes its partial results into a scratch buffer, which the
        // second reads as input 0 before writing the output.
        let scratch = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("accel-scratch"),
            size: (words.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        resources.push(scratch.as_entire_binding());
        let first = self.launch(name, &kernel, &views, &resources, None)?;
        resources[0] = scratch.as_entire_binding();
        resources[INPUT_SLOTS] = output;
        let second = self.launch(name, &merge, &views, &resources, Some(scratch.clone()))?;
        Ok(vec![first, second])
    }

    /// One dispatch of `kernel` over `resources` (inputs 0..4, then the output), with its
    /// parameter buffer built from the header, the encoded `views` and the extras.
    fn launch(
        &self,
        name: &'static str,
        kernel: &Kernel,
        views: &[[u32; wgsl::VIEW_WORDS]; 5],
        resources: &[wgpu::BindingResource<'_>],
        scratch: Option<wgpu::Buffer>,
    ) -> Result<Launch> {
        let mut params: Vec<u32> = kernel.header.to_vec();
        params.extend(views.iter().flatten());
        params.extend_from_slice(&kernel.extra);
        let groups = match kernel.groups {
            Some(g) => g,
            None => {
                let (gx, gy) = self.grid(name, kernel.invocations)?;
                [gx, gy, 1]
            }
        };
        let pipeline = self.pipeline(&kernel.source)?;
        let params = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("accel-params"),
            contents: bytemuck::cast_slice(&params),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: params.as_entire_binding() }];
        for (slot, resource) in resources.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry { binding: slot as u32 + 1, resource: resource.clone() });
        }
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.layout,
            entries: &entries,
        });
        Ok(Launch { pipeline, bind, groups, _params: params, _scratch: scratch })
    }

    /// Encodes `launches` in order into one compute pass and submits it (asynchronously, unless
    /// GPU timing waits for the pass's timestamps).
    fn submit(&self, name: &'static str, launches: &[Launch]) -> Result<Option<Duration>> {
        let mut enc = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        let timing = (self.gpu_timing.load(Ordering::Relaxed) && self.has_timestamps()).then(|| self.timestamps());
        {
            let timestamp_writes = timing.as_ref().map(|(set, _)| wgpu::ComputePassTimestampWrites {
                query_set: set,
                beginning_of_pass_write_index: Some(0),
                end_of_pass_write_index: Some(1),
            });
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes });
            // Dispatches of one pass run in order with their storage writes visible to the next.
            for l in launches {
                let [gx, gy, gz] = l.groups;
                pass.set_pipeline(&l.pipeline);
                pass.set_bind_group(0, &l.bind, &[]);
                pass.dispatch_workgroups(gx, gy, gz);
            }
        }
        if let Some((set, resolve)) = &timing {
            enc.resolve_query_set(set, 0..2, resolve, 0);
        }
        self.queue.submit([enc.finish()]);
        self.launches.fetch_add(launches.len() as u64, Ordering::Relaxed);
        self.check(name, 0)?;
        let Some((_, resolve)) = timing else { return Ok(None) };
        let mut ticks = [0u8; 16];
        self.read_raw(&resolve, 0, 16, &mut ticks)?;
        let [t0, t1]: [u64; 2] = bytemuck::cast(ticks);
        // Ticks are in units of the queue's timestamp period (ns); a counter that ran
        // backwards (possible across power states) reads as no measurement.
        let ns = t1.checked_sub(t0).map(|d| d as f64 * f64::from(self.queue.get_timestamp_period()));
        Ok(ns.map(|ns| Duration::from_nanos(ns as u64)))
    }

    /// A two-entry timestamp query set and the buffer it resolves into (timing only).
    fn timestamps(&self) -> (wgpu::QuerySet, wgpu::Buffer) {
        let set = self.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("accel-timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        let resolve = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("accel-timestamps"),
            size: 16,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        (set, resolve)
    }
}

/// Loop trips an invocation may spend on llvmpipe: its 65,535 less room for bookkeeping loops.
const LLVMPIPE_LOOP_BUDGET: usize = 60_000;

/// True for Mesa's llvmpipe (lavapipe), which cuts off a shader's loops after 65,535 trips.
fn is_llvmpipe(info: &wgpu::AdapterInfo) -> bool {
    info.driver.to_lowercase().contains("llvmpipe") || info.name.to_lowercase().contains("llvmpipe")
}

/// The split planner's view of the operands: inputs, then the output.
fn split_args<'a>(operands: &'a Operands<'_, WgpuBuffer>) -> Vec<Arg<'a>> {
    operands
        .inputs
        .iter()
        .take(INPUT_SLOTS)
        .chain(std::iter::once(&operands.output))
        .map(|o| Arg { view: o.view, dtype: o.dtype, buffer_bytes: o.buffer.raw().size() })
        .collect()
}

/// One piece's dispatch, ready to encode.
struct Launch {
    pipeline: wgpu::ComputePipeline,
    bind: wgpu::BindGroup,
    groups: [u32; 3],
    /// Held until the pass is submitted.
    _params: wgpu::Buffer,
    /// A two-pass op's scratch buffer, held likewise.
    _scratch: Option<wgpu::Buffer>,
}

/// A buffer's binding: the byte range `(offset, size)` of a split piece, or all of it.
fn binding(buffer: &wgpu::Buffer, range: Option<(u64, u64)>) -> wgpu::BindingResource<'_> {
    match range {
        Some((offset, size)) => {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding { buffer, offset, size: wgpu::BufferSize::new(size) })
        }
        None => buffer.as_entire_binding(),
    }
}

/// `[offset, rank, shape[8], strides[8]]` as the kernels read it.
fn encode_view(op: &'static str, view: &Sub) -> Result<[u32; wgsl::VIEW_WORDS]> {
    let rank = view.shape().len();
    let mut w = [0u32; wgsl::VIEW_WORDS];
    let fit =
        |v: usize| u32::try_from(v).map_err(|_| Error::invalid(op, "operand", "offsets below 2^32", v.to_string()));
    w[0] = fit(view.offset)?;
    w[1] = rank as u32;
    for d in 0..rank {
        w[2 + d] = fit(view.shape()[d])?;
        w[2 + wgsl::MAX_RANK + d] = fit(view.strides()[d])?;
    }
    Ok(w)
}

fn word_range(offset: usize, len: usize) -> (u64, u64) {
    let lo = (offset & !3) as u64;
    let hi = ((offset + len + 3) & !3) as u64;
    (lo, hi)
}

impl Backend for WgpuBackend {
    type Buffer = WgpuBuffer;

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn alloc(&self, bytes: usize) -> Result<WgpuBuffer> {
        self.check("alloc", bytes)?;
        let size = (bytes.max(4).div_ceil(4) * 4) as u64;
        if size > self.max_buffer {
            return Err(Error::OutOfMemory {
                op: "alloc",
                requested: bytes,
                limit: self.max_buffer as usize,
                device: self.info.name.clone(),
            });
        }
        let buffer = match self.pool.take(size) {
            Some(b) => {
                let mut enc = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
                enc.clear_buffer(&b, 0, None);
                self.queue.submit([enc.finish()]);
                b
            }
            None => self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("accel"),
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        };
        self.check("alloc", bytes)?;
        Ok(WgpuBuffer { buffer, bytes, pool: self.pool.clone() })
    }

    fn write(&self, buffer: &WgpuBuffer, offset: usize, data: &[u8]) -> Result<()> {
        self.check("write", 0)?;
        if data.is_empty() {
            return Ok(());
        }
        let (lo, hi) = word_range(offset, data.len());
        let mut words = vec![0u8; (hi - lo) as usize];
        let head = offset - lo as usize;
        if head != 0 || (hi - lo) as usize != data.len() {
            // Partial words at either end: keep the bytes around the written range.
            self.read_words(buffer, lo, hi, &mut words)?;
        }
        words[head..head + data.len()].copy_from_slice(data);
        self.queue.write_buffer(buffer.raw(), lo, &words);
        self.check("write", 0)
    }

    fn read(&self, buffer: &WgpuBuffer, offset: usize, out: &mut [u8]) -> Result<()> {
        if out.is_empty() {
            return self.check("read", 0);
        }
        let (lo, hi) = word_range(offset, out.len());
        let mut words = vec![0u8; (hi - lo) as usize];
        self.read_words(buffer, lo, hi, &mut words)?;
        let head = offset - lo as usize;
        out.copy_from_slice(&words[head..head + out.len()]);
        Ok(())
    }

    fn execute(&self, op: &Op, operands: Operands<'_, WgpuBuffer>) -> Result<ExecReport> {
        self.check("execute", 0)?;
        let args = split_args(&operands);
        let lim = split::Limits { binding: self.split_binding.load(Ordering::Relaxed), align: self.offset_align };
        let pieces = split::plan(op, &args, lim)?;
        let (tile, vec4) = self.matmul_lowering(op, &operands);
        let low = Lowering {
            tiled_matmul: self.tiled_matmul.load(Ordering::Relaxed),
            tile,
            vec4,
            fast_conv: self.fast_conv.load(Ordering::Relaxed),
            max_groups: self.max_groups,
            dot4: self.dot4,
        };
        // Dense operands stay dense in every piece (pieces cut outer dims), so this holds for all.
        let dense = operands.output.view.is_contiguous() && operands.inputs.iter().all(|o| o.view.is_contiguous());
        let mut launches = Vec::with_capacity(pieces.len());
        for piece in &pieces {
            launches.extend(self.prepare(op, piece, &operands, low, dense)?);
        }
        let device_time = if launches.is_empty() { None } else { self.submit(op.kind().name(), &launches)? };
        Ok(ExecReport { device_time, ..ExecReport::default() })
    }

    fn synchronize(&self) -> Result<()> {
        self.wait()?;
        self.check("synchronize", 0)
    }
}

impl WgpuBackend {
    /// Copies the word-aligned byte range `lo..hi` of `buffer` into `out` (waits).
    fn read_words(&self, buffer: &WgpuBuffer, lo: u64, hi: u64, out: &mut [u8]) -> Result<()> {
        self.read_raw(buffer.raw(), lo, hi, out)
    }

    /// Copies bytes `lo..hi` of a `COPY_SRC` buffer into `out` through a staging buffer (waits).
    fn read_raw(&self, buffer: &wgpu::Buffer, lo: u64, hi: u64, out: &mut [u8]) -> Result<()> {
        let size = hi - lo;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("accel-readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        enc.copy_buffer_to_buffer(buffer, lo, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        // Another thread's poll may be the one that fires this callback: keep polling until
        // it arrives (bounded, so a wedged device is an error rather than a hang).
        let mut mapped = None;
        for _ in 0..MAP_WAIT_ROUNDS {
            self.wait()?;
            self.check("read", 0)?;
            if let Ok(r) = rx.recv_timeout(std::time::Duration::from_millis(100)) {
                mapped = Some(r);
                break;
            }
        }
        match mapped {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(self.backend_err(format!("read: mapping the staging buffer failed: {e}"))),
            None => return Err(self.backend_err("read: the device never finished the copy".into())),
        }
        let view = staging.get_mapped_range(..).map_err(|e| self.backend_err(format!("read: {e}")))?;
        out.copy_from_slice(&view);
        drop(view);
        staging.unmap();
        Ok(())
    }
}
