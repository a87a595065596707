//! # oxjax-backend-webgpu — the WebGPU backend
//!
//! Kernels are compiled to WGSL ([`codegen`]) and run by wgpu on Vulkan,
//! Metal or DX12; on a machine without a GPU, on Mesa's lavapipe (software
//! Vulkan, Debian package `mesa-vulkan-drivers`).
//!
//! - one compute pipeline per kernel structure, cached by the [`Kernel`]
//!   itself;
//! - buffers come from a size-class pool (reused buffers are cleared on the
//!   GPU, in order);
//! - `execute` only records a compute pass into a pending command encoder;
//!   encoders are submitted in batches, and the host waits only in `read`
//!   and `synchronize` (readback through a mapped staging buffer);
//! - f16 is emulated in f32 registers with exact binary16 rounding, so it
//!   needs no `shader-f16`; there is no f64.
//!
//! Semantics: every op follows the reference, signed zeros, NaN and ±Inf
//! included, on lavapipe (integer division by zero and `MIN / -1`, shifts
//! out of range, saturating float→int casts, NaN-propagating min/max,
//! round-half-even, exact binary16 rounding). Transcendentals are our own
//! WGSL (range reduction + polynomials, Payne-Hanek for sin/cos/tan of any
//! f32), not the WGSL builtins, whose error on lavapipe reached thousands
//! of ulp. Measured maximum error against the reference (libm), f32, in
//! ulp: exp, exp2, log, log2, log1p, atan, acos, erf 1; expm1, sin, cos,
//! asin, sinh, cosh, tanh, atan2 2; tan 3; erfc 5; pow 28 (grows with
//! |y·log2 x|); f16 results 1 ulp for all. Arithmetic results pass through
//! `opaque()` so drivers cannot fold, reassociate or fuse them. The
//! capabilities still declare `NONFINITE_UNDEFINED` (WGSL allows drivers to
//! treat NaN/Inf freely); `SUBNORMALS_FLUSHED` is declared only if a probe
//! at start-up sees the device flush (lavapipe does not).
//!
//! Limits: no f64; buffers up to the device's storage-binding size (128 MiB
//! on lavapipe).
//!
//! Options (a TOML document): `power_preference = "low" | "high"`,
//! `backends = ["vulkan", "metal", "dx12", "gl"]`, `adapter = "<name
//! substring>"`, `native_sort = true | false` (default: true except on CPU
//! adapters such as lavapipe, where the core's host sort is faster).
//!
//! Sort and argsort run as a bitonic network ([`sort`]); CONV as an
//! implicit GEMM with workgroup tiling ([`conv`]), f32 only;
//! `native_conv = true | false` lists it (default: true except on CPU
//! adapters: on lavapipe the core's host conv, im2col + GEMM with a copy
//! out and in, ran the `conv_fwd_bwd` benchmark in 21 ms against the
//! shader's 134 ms on 2 CPU cores).
//! `compile_routine` accepts these kinds even when they are not listed.

pub mod codegen;
pub mod conv;
mod matmul;
mod options;
pub mod sort;
mod wgsl_lib;

pub use options::Options;
/// The kind of adapter ([`WebGpuBackend::adapter_info`]).
pub use wgpu::DeviceType;

use codegen::{Generated, Mode};
use oxjax_abi::{
    Backend, BackendError, BackendInfo, BufferId, Capabilities, DType, ErrorKind, ExecutableId,
    Kernel, Launch, OPS, Routine, RoutineKind, Semantics,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Kernels recorded before the pending encoder is submitted without waiting.
const BATCH: u32 = 32;
/// Dispatches of a loop (`execute_loop`) recorded per submission.
const LOOP_BATCH: u64 = 4096;
/// Bytes kept in the buffer pool at most.
const POOL_BYTES: u64 = 1 << 30;

/// The WebGPU backend.
pub struct WebGpuBackend {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    semantics: Semantics,
    native_sort: bool,
    native_conv: bool,
    state: Mutex<State>,
    /// Errors wgpu reported outside an error scope (validation, OOM),
    /// returned by the next `read` or `synchronize`.
    errors: Arc<Mutex<Vec<String>>>,
}

struct Buf {
    buf: wgpu::Buffer,
    /// Logical size in bytes (the allocation is rounded up, zero padded).
    len: u64,
}

/// A compiled sort / argsort.
struct SortExe {
    plan: sort::SortPlan,
    layout: wgpu::BindGroupLayout,
    init: wgpu::ComputePipeline,
    step: wgpu::ComputePipeline,
    lsort: wgpu::ComputePipeline,
    lmerge: wgpu::ComputePipeline,
    finish: wgpu::ComputePipeline,
    /// One `Stage { k, j }` per `stride` bytes.
    stages: wgpu::Buffer,
    stride: u32,
    wgsl: String,
}

/// A compiled CONV.
struct ConvExe {
    plan: conv::ConvPlan,
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
    /// Adds the split sums (when the plan splits the depth).
    reduce: Option<wgpu::ComputePipeline>,
    wgsl: String,
}

#[derive(Clone)]
enum Exe {
    Kernel(Arc<Pipeline>),
    Sort(Arc<SortExe>),
    Conv(Arc<ConvExe>),
}

/// A compiled kernel.
struct Pipeline {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    generated: Generated,
    kernel: Kernel,
}

#[derive(Default)]
struct State {
    buffers: HashMap<u64, Buf>,
    exes: HashMap<u64, Exe>,
    cache: HashMap<Kernel, Arc<Pipeline>>,
    sort_cache: HashMap<oxjax_abi::Routine, Arc<SortExe>>,
    conv_cache: HashMap<oxjax_abi::Routine, Arc<ConvExe>>,
    /// Free buffers by allocation size.
    pool: HashMap<u64, Vec<wgpu::Buffer>>,
    pool_bytes: u64,
    encoder: Option<wgpu::CommandEncoder>,
    pending: u32,
    last_id: u64,
}

fn err(kind: ErrorKind, msg: impl Into<String>) -> BackendError {
    BackendError::new(kind, msg)
}

fn invalid(msg: impl Into<String>) -> BackendError {
    err(ErrorKind::INVALID_ARGUMENT, msg)
}

/// Creates the backend from its options (see [`Options`]).
pub fn new(options: &str) -> Result<WebGpuBackend, BackendError> {
    let opts = Options::parse(options)?;
    WebGpuBackend::with_options(&opts)
}

/// Mesa's Vulkan drivers print "XDG_RUNTIME_DIR is invalid or not set" on
/// stderr of every program where that variable is unset (servers,
/// containers, CI). Where it is unset, point it at a private 0700 folder
/// before the first adapter is requested, once per process.
fn private_runtime_dir() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("oxjax-webgpu-xdg-{}", std::process::id()));
        if std::fs::create_dir_all(&dir).is_ok() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            }
            // SAFETY: set once, only where unset, before this plugin starts
            // any thread; the host reads no environment while a device
            // starts (the registry holds the device's slot).
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    });
}

/// The allocation size for `len` logical bytes: a multiple of 4, at least
/// 4, rounded up to one of 8 size classes per power of two.
fn alloc_size(len: u64) -> u64 {
    let n = len.max(4).next_multiple_of(4);
    if n <= 256 {
        return 256;
    }
    let step = (n.next_power_of_two() / 8).max(4);
    n.next_multiple_of(step)
}

impl WebGpuBackend {
    pub fn with_options(opts: &Options) -> Result<WebGpuBackend, BackendError> {
        private_runtime_dir();
        let adapter = opts.select_adapter()?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("oxjax"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| {
            err(
                ErrorKind::DEVICE,
                format!("cannot open a device on adapter {}: {e}", info.name),
            )
        })?;
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(e.to_string());
        }));
        let mut backend = WebGpuBackend {
            device,
            queue,
            adapter: info.clone(),
            limits,
            semantics: Semantics(Semantics::NONFINITE_UNDEFINED),
            native_sort: opts
                .native_sort
                .unwrap_or(info.device_type != wgpu::DeviceType::Cpu),
            native_conv: opts
                .native_conv
                .unwrap_or(info.device_type != wgpu::DeviceType::Cpu),
            state: Mutex::default(),
            errors,
        };
        if backend.probe_flushes_subnormals()? {
            backend.semantics.0 |= Semantics::SUBNORMALS_FLUSHED;
        }
        Ok(backend)
    }

    /// How many kernel pipelines have been built (the cache's size).
    #[doc(hidden)]
    pub fn pipelines_built(&self) -> usize {
        self.lock().cache.len()
    }

    /// The adapter this backend runs on.
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.adapter
    }

    /// Runs `x * 1.0` on a subnormal: true if the device flushes it.
    fn probe_flushes_subnormals(&self) -> Result<bool, BackendError> {
        use oxjax_abi::{KernelBuilder, Op, Scalar};
        let mut b = KernelBuilder::new();
        let i = b.input(DType::F32);
        let g = b.gidx();
        let x = b.load(i, g);
        let one = b.constant(Scalar::F32(1.0));
        let y = b.op(Op::MUL, &[x, one]);
        b.output(y);
        let k = b.finish(1, 0);
        let exe = self.compile(&k)?;
        let inp = self.alloc(4)?;
        let out = self.alloc(4)?;
        let tiny = f32::from_bits(0x0000_0100);
        self.write(inp, 0, &tiny.to_le_bytes())?;
        self.execute(exe, &[inp], &[out])?;
        let got = self.read(out, 0, 4)?;
        self.free(inp);
        self.free(out);
        self.release(exe);
        Ok(f32::from_le_bytes([got[0], got[1], got[2], got[3]]) == 0.0)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_errors(&self) -> Result<(), BackendError> {
        let mut e = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        if e.is_empty() {
            return Ok(());
        }
        let msg = e.join("\n");
        e.clear();
        Err(err(ErrorKind::EXECUTION, format!("wgpu reported: {msg}")))
    }

    fn encoder<'s>(&self, st: &'s mut State) -> &'s mut wgpu::CommandEncoder {
        st.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None })
        })
    }

    /// A bind group of `(binding, buffer, bytes)` storage bindings, each
    /// from the buffer's start.
    fn bind_group<'b>(
        &self,
        layout: &wgpu::BindGroupLayout,
        buffers: impl Iterator<Item = (u32, &'b wgpu::Buffer, u64)>,
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .map(|(binding, buffer, size)| wgpu::BindGroupEntry {
                binding,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer,
                    offset: 0,
                    size: std::num::NonZeroU64::new(size),
                }),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout,
            entries: &entries,
        })
    }

    /// The entry points of one WGSL module over one bind-group layout, as
    /// compute pipelines made on demand (`pipeline("main")`).
    fn entry_points(
        &self,
        label: &'static str,
        wgsl: &str,
        layout: &wgpu::BindGroupLayout,
    ) -> impl Fn(&str) -> wgpu::ComputePipeline + '_ {
        let pl = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: None,
                bind_group_layouts: &[Some(layout)],
                immediate_size: 0,
            });
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(wgsl.into()),
            });
        move |entry: &str| {
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(label),
                    layout: Some(&pl),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
        }
    }

    /// Submits the pending encoder, if any, without waiting.
    fn flush(&self, st: &mut State) {
        if let Some(enc) = st.encoder.take() {
            self.queue.submit([enc.finish()]);
            st.pending = 0;
        }
    }

    fn wait(&self) -> Result<(), BackendError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| err(ErrorKind::EXECUTION, format!("waiting for the device: {e}")))?;
        Ok(())
    }

    /// Copies `start..end` (4-aligned) of a buffer to a staging buffer,
    /// waiting for all earlier work, and hands its mapped bytes to `f`.
    fn read_words<R>(
        &self,
        st: &mut State,
        buf: &wgpu::Buffer,
        (start, end): (u64, u64),
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, BackendError> {
        let size = end - start;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("oxjax readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.encoder(st)
            .copy_buffer_to_buffer(buf, start, &staging, 0, size);
        self.flush(st);
        let done: Arc<Mutex<Option<Result<(), wgpu::BufferAsyncError>>>> = Arc::default();
        let slot = done.clone();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
        });
        self.wait()?;
        self.take_errors()?;
        match done.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(Ok(())) => {}
            other => {
                return Err(err(
                    ErrorKind::EXECUTION,
                    format!("mapping the readback buffer failed: {other:?}"),
                ));
            }
        }
        let data = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| err(ErrorKind::EXECUTION, format!("readback: {e:?}")))?;
            f(&view)
        };
        staging.unmap();
        Ok(data)
    }

    /// `len` bytes of a buffer from `offset`, handed to `f` straight from
    /// the mapped staging memory (waits for all earlier work).
    fn read_range<R>(
        &self,
        buffer: BufferId,
        offset: u64,
        len: u64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, BackendError> {
        let mut st = self.lock();
        let b = st
            .buffers
            .get(&buffer.0)
            .ok_or_else(|| invalid(format!("unknown buffer id {}", buffer.0)))?;
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= b.len)
            .ok_or_else(|| {
                invalid(format!(
                    "read out of bounds: buffer {} (size {} bytes), offset {offset}, len {len}",
                    buffer.0, b.len
                ))
            })?;
        if len == 0 {
            self.flush(&mut st);
            self.wait()?;
            self.take_errors()?;
            return Ok(f(&[]));
        }
        let buf = b.buf.clone();
        let (start, stop) = (offset & !3, end.next_multiple_of(4));
        let (a, b) = ((offset - start) as usize, (end - start) as usize);
        self.read_words(&mut st, &buf, (start, stop), |words| f(&words[a..b]))
    }

    fn create_pipeline(&self, kernel: &Kernel) -> Result<Pipeline, BackendError> {
        let generated = codegen::generate(kernel).map_err(|e| {
            err(
                ErrorKind::COMPILE,
                format!("WGSL generation failed: {e}\n{kernel}"),
            )
        })?;
        let n_in = kernel.inputs.len();
        let n_out = kernel.outputs.len();
        let entries: Vec<wgpu::BindGroupLayoutEntry> = (0..n_in + n_out)
            .map(|b| storage_entry(b as u32, b < n_in))
            .collect();
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("oxjax kernel"),
                source: wgpu::ShaderSource::Wgsl(generated.wgsl.as_str().into()),
            });
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: None,
                entries: &entries,
            });
        let pl = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: None,
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("oxjax kernel"),
                layout: Some(&pl),
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(err(
                ErrorKind::COMPILE,
                format!(
                    "WGSL compilation failed: {e}\n--- kernel ---\n{kernel}\n--- WGSL ---\n{}",
                    generated.wgsl
                ),
            ));
        }
        Ok(Pipeline {
            pipeline,
            layout,
            generated,
            kernel: kernel.clone(),
        })
    }

    /// Runs raw WGSL for probing the device in tests: binding 0 is `input`
    /// (read-only `array<u32>`), binding 1 the output of `out_words` words;
    /// `groups` workgroups of whatever size the shader declares.
    #[doc(hidden)]
    pub fn run_raw_wgsl(
        &self,
        wgsl: &str,
        input: &[u32],
        out_words: usize,
        groups: u32,
    ) -> Result<Vec<u32>, BackendError> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: None,
                source: wgpu::ShaderSource::Wgsl(wgsl.into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: None,
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(err(ErrorKind::COMPILE, e.to_string()));
        }
        let inp = self.alloc(input.len() as u64 * 4)?;
        let out = self.alloc(out_words as u64 * 4)?;
        self.write(inp, 0, bytemuck::cast_slice(input))?;
        let mut st = self.lock();
        let (bi, bo) = (
            st.buffers[&inp.0].buf.clone(),
            st.buffers[&out.0].buf.clone(),
        );
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: bi.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: bo.as_entire_binding(),
                },
            ],
        });
        {
            let mut pass = self
                .encoder(&mut st)
                .begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(groups, 1, 1);
        }
        drop(st);
        let bytes = self.read(out, 0, out_words as u64 * 4)?;
        self.free(inp);
        self.free(out);
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    fn add_exe(&self, exe: Exe) -> ExecutableId {
        let mut st = self.lock();
        st.last_id += 1;
        let id = st.last_id;
        st.exes.insert(id, exe);
        ExecutableId(id)
    }

    /// Checks a kernel launch's buffers and makes its bind group and
    /// workgroup grid (a zero in the grid: nothing to run).
    fn bind_kernel(
        &self,
        st: &State,
        p: &Pipeline,
        inputs: &[BufferId],
        outputs: &[BufferId],
    ) -> Result<(wgpu::BindGroup, [u32; 3]), BackendError> {
        let k = &p.kernel;
        if inputs.len() != k.inputs.len() {
            return Err(invalid(format!(
                "executable takes {} input buffers, got {}",
                k.inputs.len(),
                inputs.len()
            )));
        }
        if outputs.len() != k.outputs.len() {
            return Err(invalid(format!(
                "executable writes {} output buffers, got {}",
                k.outputs.len(),
                outputs.len()
            )));
        }
        let mut bufs: Vec<(wgpu::Buffer, u64)> = Vec::with_capacity(inputs.len() + outputs.len());
        for (n, id) in inputs.iter().chain(outputs).enumerate() {
            let b = st
                .buffers
                .get(&id.0)
                .ok_or_else(|| invalid(format!("unknown buffer id {}", id.0)))?;
            if n >= inputs.len() {
                let o = n - inputs.len();
                let want = k.size as u64 * k.output_dtype(o).size() as u64;
                if b.len < want {
                    return Err(invalid(format!(
                        "output {o} (buffer {}) holds {} bytes, needs {want}",
                        id.0, b.len
                    )));
                }
            }
            bufs.push((b.buf.clone(), b.len.max(1).next_multiple_of(4)));
        }
        let group = self.bind_group(
            &p.layout,
            bufs.iter().enumerate().map(|(n, (b, s))| (n as u32, b, *s)),
        );
        let dims = match p.generated.mode {
            Mode::Elementwise { units } => grid(units),
            Mode::Tree => [k.size, 1, 1],
            Mode::Tiled { groups } => groups,
        };
        Ok((group, dims))
    }

    /// Counts a recorded dispatch; submits a full batch without waiting.
    fn recorded(&self, st: &mut State) {
        st.pending += 1;
        if st.pending >= BATCH {
            self.flush(st);
            let _ = self.device.poll(wgpu::PollType::Poll);
        }
    }

    fn create_sort(&self, routine: &Routine) -> Result<SortExe, BackendError> {
        let max_pairs = self.limits.max_storage_buffer_binding_size / 8;
        let plan = sort::SortPlan::new(routine, max_pairs)?;
        let wgsl = plan.wgsl();
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: None,
                entries: &[
                    storage_entry(0, true),
                    storage_entry(1, false),
                    storage_entry(2, false),
                    wgpu::BindGroupLayoutEntry {
                        binding: 3,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Uniform,
                            has_dynamic_offset: true,
                            min_binding_size: std::num::NonZeroU64::new(8),
                        },
                        count: None,
                    },
                ],
            });
        let pipeline = self.entry_points("oxjax sort", &wgsl, &layout);
        let (init, step, finish) = (pipeline("init"), pipeline("step"), pipeline("finish"));
        let (lsort, lmerge) = (pipeline("lsort"), pipeline("lmerge"));
        let stride = self.limits.min_uniform_buffer_offset_alignment.max(8);
        let stage_list = plan.stages();
        let mut bytes = vec![0u8; stride as usize * stage_list.len().max(1)];
        for (n, stage) in stage_list.iter().enumerate() {
            let (k, j) = stage.params();
            let at = n * stride as usize;
            bytes[at..at + 4].copy_from_slice(&k.to_le_bytes());
            bytes[at + 4..at + 8].copy_from_slice(&j.to_le_bytes());
        }
        let stages = wgpu::util::DeviceExt::create_buffer_init(
            &self.device,
            &wgpu::util::BufferInitDescriptor {
                label: Some("oxjax sort stages"),
                contents: &bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            },
        );
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(err(
                ErrorKind::COMPILE,
                format!("sort compilation failed: {e}\n--- WGSL ---\n{wgsl}"),
            ));
        }
        Ok(SortExe {
            plan,
            layout,
            init,
            step,
            lsort,
            lmerge,
            finish,
            stages,
            stride,
            wgsl,
        })
    }

    fn execute_sort(
        &self,
        st: &mut State,
        srt: &SortExe,
        inputs: &[BufferId],
        outputs: &[BufferId],
    ) -> Result<(), BackendError> {
        let plan = &srt.plan;
        let (&[input], &[output]) = (inputs, outputs) else {
            return Err(invalid(format!(
                "sort takes 1 input and 1 output buffer, got {} and {}",
                inputs.len(),
                outputs.len()
            )));
        };
        let get =
            |id: BufferId, need: u64, what: &str| -> Result<(wgpu::Buffer, u64), BackendError> {
                let b = st
                    .buffers
                    .get(&id.0)
                    .ok_or_else(|| invalid(format!("unknown buffer id {}", id.0)))?;
                if b.len < need {
                    return Err(invalid(format!(
                        "{what} (buffer {}) holds {} bytes, the sort needs {need}",
                        id.0, b.len
                    )));
                }
                Ok((b.buf.clone(), b.len.max(1).next_multiple_of(4)))
            };
        let (ib, isize) = get(input, plan.input_bytes(), "input")?;
        let (ob, osize) = get(output, plan.output_bytes(), "output")?;
        if plan.elements() == 0 {
            return Ok(());
        }
        let (pairs, fin) = plan.invocations();
        let keys = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("oxjax sort keys"),
            size: pairs as u64 * 8,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        fn binding(buf: &wgpu::Buffer, size: u64) -> wgpu::BindingResource<'_> {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: buf,
                offset: 0,
                size: std::num::NonZeroU64::new(size),
            })
        }
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &srt.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: binding(&ib, isize),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: binding(&ob, osize),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: keys.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: binding(&srt.stages, 8),
                },
            ],
        });
        {
            let enc = self.encoder(st);
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            let [x, y, z] = grid(pairs);
            pass.set_pipeline(&srt.init);
            pass.set_bind_group(0, &group, &[0]);
            pass.dispatch_workgroups(x, y, z);
            let blocks = {
                let b = pairs.div_ceil(sort::BLOCK);
                if b <= 65535 {
                    [b, 1, 1]
                } else {
                    [65535, b.div_ceil(65535), 1]
                }
            };
            for (n, stage) in plan.stages().into_iter().enumerate() {
                pass.set_bind_group(0, &group, &[n as u32 * srt.stride]);
                let (pipe, [x, y, z]) = match stage {
                    sort::Stage::LocalSort => (&srt.lsort, blocks),
                    sort::Stage::LocalMerge { .. } => (&srt.lmerge, blocks),
                    sort::Stage::Global { .. } => (&srt.step, [x, y, z]),
                };
                pass.set_pipeline(pipe);
                pass.dispatch_workgroups(x, y, z);
            }
            let [x, y, z] = grid(fin);
            pass.set_pipeline(&srt.finish);
            pass.set_bind_group(0, &group, &[0]);
            pass.dispatch_workgroups(x, y, z);
        }
        self.recorded(st);
        Ok(())
    }

    fn create_conv(&self, routine: &Routine) -> Result<ConvExe, BackendError> {
        let max = self
            .limits
            .max_buffer_size
            .min(self.limits.max_storage_buffer_binding_size);
        let plan = conv::ConvPlan::new(routine, max / 4)?;
        let wgsl = plan.wgsl();
        let bindings = if plan.splits > 1 { 4 } else { 3 };
        let entries: Vec<wgpu::BindGroupLayoutEntry> =
            (0..bindings).map(|b| storage_entry(b, b < 2)).collect();
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: None,
                entries: &entries,
            });
        let pipeline = self.entry_points("oxjax conv", &wgsl, &layout);
        let (reduce, pipeline) = (
            (plan.splits > 1).then(|| pipeline("reduce")),
            pipeline("main"),
        );
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(err(
                ErrorKind::COMPILE,
                format!("conv compilation failed: {e}\n--- WGSL ---\n{wgsl}"),
            ));
        }
        Ok(ConvExe {
            plan,
            layout,
            pipeline,
            reduce,
            wgsl,
        })
    }

    fn execute_conv(
        &self,
        st: &mut State,
        cv: &ConvExe,
        inputs: &[BufferId],
        outputs: &[BufferId],
    ) -> Result<(), BackendError> {
        let (&[lhs, rhs], &[out]) = (inputs, outputs) else {
            return Err(invalid(format!(
                "conv takes 2 input buffers and 1 output buffer, got {} and {}",
                inputs.len(),
                outputs.len()
            )));
        };
        let mut entries = Vec::with_capacity(3);
        for (n, ((id, need), what)) in [lhs, rhs, out]
            .into_iter()
            .zip(cv.plan.bytes())
            .zip(["lhs", "rhs", "output"])
            .enumerate()
        {
            let b = st
                .buffers
                .get(&id.0)
                .ok_or_else(|| invalid(format!("unknown buffer id {}", id.0)))?;
            if b.len < need {
                return Err(invalid(format!(
                    "conv {what} (buffer {}) holds {} bytes, needs {need}",
                    id.0, b.len
                )));
            }
            entries.push((n as u32, b.buf.clone(), b.len.max(1).next_multiple_of(4)));
        }
        if cv.plan.workgroups() == 0 {
            return Ok(());
        }
        let part = cv.reduce.as_ref().map(|_| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("oxjax conv split sums"),
                size: cv.plan.part_bytes(),
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        });
        if let Some(p) = &part {
            entries.push((3, p.clone(), p.size()));
        }
        let group = self.bind_group(&cv.layout, entries.iter().map(|(n, b, s)| (*n, b, *s)));
        {
            let enc = self.encoder(st);
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&cv.pipeline);
            pass.set_bind_group(0, &group, &[]);
            let [x, y, z] = conv::ConvPlan::grid(cv.plan.workgroups());
            pass.dispatch_workgroups(x, y, z);
            if let Some(reduce) = &cv.reduce {
                pass.set_pipeline(reduce);
                let [x, y, z] = conv::ConvPlan::grid(cv.plan.reduce_workgroups());
                pass.dispatch_workgroups(x, y, z);
            }
        }
        self.recorded(st);
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            dtypes: vec![DType::BOOL, DType::I32, DType::U32, DType::F16, DType::F32].into(),
            ops: OPS.iter().map(|i| i.op).collect(),
            routines: {
                let mut r = Vec::new();
                if self.native_sort {
                    r.extend([RoutineKind::SORT, RoutineKind::ARGSORT]);
                }
                if self.native_conv {
                    r.push(RoutineKind::CONV);
                }
                r.into()
            },
            max_inputs: self.max_bindings().saturating_sub(4),
            semantics: self.semantics,
        }
    }

    fn max_bindings(&self) -> u32 {
        self.limits.max_storage_buffers_per_shader_stage
    }
}

impl Backend for WebGpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "webgpu".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            device: format!(
                "{} ({:?}, {:?}, driver {} {})",
                self.adapter.name,
                self.adapter.device_type,
                self.adapter.backend,
                self.adapter.driver,
                self.adapter.driver_info
            )
            .into(),
            caps: self.capabilities(),
        }
    }

    fn alloc(&self, bytes: u64) -> Result<BufferId, BackendError> {
        let size = alloc_size(bytes);
        let max = self
            .limits
            .max_buffer_size
            .min(self.limits.max_storage_buffer_binding_size);
        if size > max {
            return Err(err(
                ErrorKind::OUT_OF_MEMORY,
                format!(
                    "cannot allocate {bytes} bytes: the device's largest storage buffer is {max} bytes"
                ),
            ));
        }
        let mut st = self.lock();
        let reused = st.pool.get_mut(&size).and_then(Vec::pop);
        let buf = match reused {
            Some(b) => {
                st.pool_bytes -= size;
                self.encoder(&mut st).clear_buffer(&b, 0, None);
                b
            }
            None => self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("oxjax buffer"),
                size,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        };
        st.last_id += 1;
        let id = st.last_id;
        st.buffers.insert(id, Buf { buf, len: bytes });
        Ok(BufferId(id))
    }

    fn free(&self, buffer: BufferId) {
        let mut st = self.lock();
        if let Some(b) = st.buffers.remove(&buffer.0) {
            let size = b.buf.size();
            if st.pool_bytes + size <= POOL_BYTES {
                st.pool_bytes += size;
                st.pool.entry(size).or_default().push(b.buf);
            }
        }
    }

    fn write(&self, buffer: BufferId, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        let mut st = self.lock();
        let b = st
            .buffers
            .get(&buffer.0)
            .ok_or_else(|| invalid(format!("unknown buffer id {}", buffer.0)))?;
        let len = data.len() as u64;
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= b.len)
            .ok_or_else(|| {
                invalid(format!(
                    "write out of bounds: buffer {} (size {} bytes), offset {offset}, len {len}",
                    buffer.0, b.len
                ))
            })?;
        if len == 0 {
            return Ok(());
        }
        let buf = b.buf.clone();
        let logical = b.len;
        let (start, stop) = (offset & !3, end.next_multiple_of(4));
        let mut bytes;
        // Bytes past the logical end are always zero, so a write reaching
        // the end needs no read for its tail.
        if start == offset && (stop == end || end == logical) {
            bytes = vec![0u8; (stop - start) as usize];
        } else {
            bytes = self.read_words(&mut st, &buf, (start, stop), <[u8]>::to_vec)?;
        }
        bytes[(offset - start) as usize..(end - start) as usize].copy_from_slice(data);
        // Earlier kernels must run before this write lands.
        self.flush(&mut st);
        self.queue.write_buffer(&buf, start, &bytes);
        Ok(())
    }

    fn read(&self, buffer: BufferId, offset: u64, len: u64) -> Result<Vec<u8>, BackendError> {
        self.read_range(buffer, offset, len, <[u8]>::to_vec)
    }

    fn read_into(&self, buffer: BufferId, offset: u64, dst: &mut [u8]) -> Result<(), BackendError> {
        self.read_range(buffer, offset, dst.len() as u64, |b| dst.copy_from_slice(b))
    }

    fn compile(&self, kernel: &Kernel) -> Result<ExecutableId, BackendError> {
        kernel
            .validate()
            .map_err(|e| err(ErrorKind::COMPILE, format!("invalid kernel: {e}\n{kernel}")))?;
        let caps = self.capabilities();
        caps.check(kernel)
            .map_err(|e| err(ErrorKind::UNSUPPORTED, format!("{e}\n{kernel}")))?;
        let bindings = kernel.inputs.len() + kernel.outputs.len();
        if bindings > self.max_bindings() as usize {
            return Err(err(
                ErrorKind::UNSUPPORTED,
                format!(
                    "kernel binds {bindings} buffers, the device allows {}",
                    self.max_bindings()
                ),
            ));
        }
        let cached = self.lock().cache.get(kernel).cloned();
        let pipeline = match cached {
            Some(p) => p,
            None => {
                let p = Arc::new(self.create_pipeline(kernel)?);
                self.lock().cache.insert(kernel.clone(), p.clone());
                p
            }
        };
        Ok(self.add_exe(Exe::Kernel(pipeline)))
    }

    fn compile_routine(&self, routine: &Routine) -> Result<ExecutableId, BackendError> {
        if routine.kind == RoutineKind::CONV {
            let cached = self.lock().conv_cache.get(routine).cloned();
            let exe = match cached {
                Some(e) => e,
                None => {
                    let e = Arc::new(self.create_conv(routine)?);
                    self.lock().conv_cache.insert(routine.clone(), e.clone());
                    e
                }
            };
            return Ok(self.add_exe(Exe::Conv(exe)));
        }
        let cached = self.lock().sort_cache.get(routine).cloned();
        let exe = match cached {
            Some(e) => e,
            None => {
                let e = Arc::new(self.create_sort(routine)?);
                self.lock().sort_cache.insert(routine.clone(), e.clone());
                e
            }
        };
        Ok(self.add_exe(Exe::Sort(exe)))
    }

    fn execute(
        &self,
        exe: ExecutableId,
        inputs: &[BufferId],
        outputs: &[BufferId],
    ) -> Result<(), BackendError> {
        let mut st = self.lock();
        let found = st
            .exes
            .get(&exe.0)
            .cloned()
            .ok_or_else(|| invalid(format!("unknown executable id {}", exe.0)))?;
        let p = match found {
            Exe::Kernel(p) => p,
            Exe::Sort(srt) => return self.execute_sort(&mut st, &srt, inputs, outputs),
            Exe::Conv(cv) => return self.execute_conv(&mut st, &cv, inputs, outputs),
        };
        let (group, dims) = self.bind_kernel(&st, &p, inputs, outputs)?;
        if dims.contains(&0) {
            return Ok(());
        }
        {
            let enc = self.encoder(&mut st);
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            });
            pass.set_pipeline(&p.pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(dims[0], dims[1], dims[2]);
        }
        self.recorded(&mut st);
        Ok(())
    }

    /// Records the whole loop into the pending encoder: each launch of the
    /// body gets its bind group once, and the dispatches of up to
    /// [`LOOP_BATCH`] launches share one compute pass and one submission
    /// (wgpu orders the dispatches of a pass like separate passes). A body
    /// holding a routine runs launch by launch.
    fn execute_loop(&self, body: &[Launch], count: u64) -> Result<(), BackendError> {
        if count == 0 {
            return Ok(());
        }
        if body.is_empty() {
            return Err(invalid(format!(
                "execute_loop: {count} launches of an empty body"
            )));
        }
        let mut st = self.lock();
        let mut bound = Vec::with_capacity(body.len());
        for l in body {
            let p = match st.exes.get(&l.exe.0) {
                Some(Exe::Kernel(p)) => p.clone(),
                Some(_) => {
                    drop(st);
                    return oxjax_abi::launch_by_launch(body, count, |l| {
                        self.execute(l.exe, &l.inputs, &l.outputs)
                    });
                }
                None => return Err(invalid(format!("unknown executable id {}", l.exe.0))),
            };
            let (group, dims) = self.bind_kernel(&st, &p, &l.inputs, &l.outputs)?;
            bound.push((p, group, dims));
        }
        let mut done = 0;
        while done < count {
            let n = (count - done).min(LOOP_BATCH);
            {
                let enc = self.encoder(&mut st);
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: None,
                    timestamp_writes: None,
                });
                for j in done..done + n {
                    let (p, group, dims) = &bound[(j % body.len() as u64) as usize];
                    if dims.contains(&0) {
                        continue;
                    }
                    pass.set_pipeline(&p.pipeline);
                    pass.set_bind_group(0, group, &[]);
                    pass.dispatch_workgroups(dims[0], dims[1], dims[2]);
                }
            }
            self.flush(&mut st);
            let _ = self.device.poll(wgpu::PollType::Poll);
            done += n;
        }
        Ok(())
    }

    fn synchronize(&self) -> Result<(), BackendError> {
        let mut st = self.lock();
        self.flush(&mut st);
        self.wait()?;
        self.take_errors()
    }

    fn release(&self, exe: ExecutableId) {
        self.lock().exes.remove(&exe.0);
    }

    fn source(&self, exe: ExecutableId) -> String {
        match self.lock().exes.get(&exe.0) {
            Some(Exe::Kernel(p)) => p.generated.wgsl.clone(),
            Some(Exe::Sort(s)) => s.wgsl.clone(),
            Some(Exe::Conv(c)) => c.wgsl.clone(),
            None => String::new(),
        }
    }
}

/// A compute shader's storage buffer binding.
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

/// Workgroups of [`codegen::WG`] for `n` invocations: 2-D beyond 65535.
fn grid(n: u32) -> [u32; 3] {
    let wgs = n.div_ceil(codegen::WG);
    if wgs <= 65535 {
        [wgs, 1, 1]
    } else {
        [65535, wgs.div_ceil(65535), 1]
    }
}

impl Drop for WebGpuBackend {
    fn drop(&mut self) {
        let mut st = self.lock();
        self.flush(&mut st);
        drop(st);
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }
}

oxjax_abi::export_backend!(new);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_sizes_are_word_multiples_in_few_classes() {
        assert_eq!(alloc_size(0), 256);
        assert_eq!(alloc_size(5), 256);
        assert_eq!(alloc_size(257), 320);
        for n in [
            1u64,
            3,
            255,
            256,
            1000,
            4097,
            1 << 20,
            (1 << 20) + 1,
            123_456_789,
        ] {
            let a = alloc_size(n);
            assert!(a >= n.max(4) && a.is_multiple_of(4), "{n} -> {a}");
            assert!(a <= n.max(256) + n / 4 + 4, "{n} -> {a} wastes too much");
        }
    }

    #[test]
    fn grids_go_2d_beyond_65535_workgroups() {
        assert_eq!(grid(0), [0, 1, 1]);
        assert_eq!(grid(codegen::WG * 65535), [65535, 1, 1]);
        let [x, y, _] = grid(codegen::WG * 65535 + 1);
        assert_eq!((x, y), (65535, 2));
    }

    #[test]
    fn sort_stages_form_a_bitonic_network() {
        use oxjax_abi::TensorDesc;
        let r = |len: u64| Routine {
            kind: RoutineKind::SORT,
            inputs: vec![TensorDesc {
                dtype: DType::F32,
                shape: vec![len].into(),
            }]
            .into(),
            outputs: vec![TensorDesc {
                dtype: DType::F32,
                shape: vec![len].into(),
            }]
            .into(),
            params: vec![0].into(),
        };
        let plan = sort::SortPlan::new(&r(1), 1 << 30).unwrap();
        assert!(plan.stages().is_empty());
        let plan = sort::SortPlan::new(&r(300), 1 << 30).unwrap();
        assert_eq!(plan.stages(), vec![sort::Stage::LocalSort]);
        let plan = sort::SortPlan::new(&r(2000), 1 << 30).unwrap();
        use sort::Stage::*;
        assert_eq!(
            plan.stages(),
            vec![
                LocalSort,
                Global { k: 1024, j: 512 },
                LocalMerge { k: 1024 },
                Global { k: 2048, j: 1024 },
                Global { k: 2048, j: 512 },
                LocalMerge { k: 2048 }
            ]
        );
        assert!(sort::SortPlan::new(&r(1 << 20), 1 << 10).is_err());
    }
}
