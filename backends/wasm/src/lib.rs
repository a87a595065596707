//! # oxjax-backend-wasm — the WASM backend
//!
//! Every kernel becomes one WebAssembly module generated with
//! `wasm-encoder` ([`codegen`]) and compiled by wasmtime (Cranelift):
//!
//! - **Codegen**: `run(start, end)` computes output elements `gidx` in
//!   `start..end`; nodes live in wasm locals; loads clamp their address and
//!   select zero out of bounds (so they can never read outside the buffer);
//!   a reduction is a loop over `ridx` with its epilogue after it. Every op
//!   and dtype of the ABI is supported with the reference semantics; f16 is
//!   stored as bits and computed in f32 with round-to-nearest-even
//!   conversions; transcendentals are polynomial helpers inside the module
//!   (`math`: f64, also used by f16; `vmath`: f32x4 forms of every float
//!   transcendental, atan2, pow and fmod, also used by scalar f32 code so
//!   every element gets the same bits; fmod is exact either way).
//! - **SIMD128**: kernels whose values are all 32-bit (bool, i32, u32,
//!   f32) run four consecutive `gidx` per step, one per lane (reductions
//!   included: each lane keeps its own accumulator; float sums and
//!   products accumulate in blocks of 16 steps folded level by level, a
//!   16-ary tree, so their error grows with log rsize). Consecutive
//!   in-bounds loads are one `v128.load`, invariant ones a splat, others
//!   lane by lane; ops without a SIMD form run lane by lane; the tail
//!   goes to the scalar function. Elementwise kernels run four groups of
//!   four per step (two in large kernels), node by node in turn, with the
//!   vector transcendentals inlined, so the groups' dependency chains
//!   overlap in the CPU. A reduction whose loads read rows (`base + ridx`)
//!   runs four steps at a time when every lane's row is in bounds: one
//!   vector load per lane and a 4x4 transpose give the four steps' values,
//!   which are then combined in order (the same bits as one step at a
//!   time). In kernels over rows (`gidx = i N + j`, N a multiple of 4,
//!   groups aligned) a load index whose affine form
//!   (`oxjax_abi::analysis`) is the same in every lane of an aligned group
//!   is one load and a splat, one stepping by 1 per lane one vector load.
//! - **Matmul** (`matmul`): a single f32 sum of a product of two loads
//!   whose indices are affine in the output row, column and `ridx` (as
//!   `oxjax_abi::analysis::matmul` proves) runs a
//!   4x8 register-tiled micro-kernel (separate multiply and add, in `ridx`
//!   order: the same bits on any thread count), any epilogue per element,
//!   over column blocks whose B panel is packed into per-thread scratch
//!   memory. A product of fewer rows than a tile (batch 1) runs in axpy
//!   form: B's rows stream in order into a chunk of sums kept in scratch.
//! - **Threads** (`pool`): a hand-off spins for up to 200 us before it
//!   sleeps, since waking a sleeping thread costs tens of microseconds on a
//!   virtual machine and a jitted program launches kernels microseconds
//!   apart.
//! - **Memory**: all buffers live in one shared linear memory managed by a
//!   size-class allocator (`alloc`); a failure to grow is an
//!   `OUT_OF_MEMORY` error. A reused block is zeroed lazily, on its first
//!   use that does not overwrite all of it (a kernel output never is);
//!   `read_into` copies straight into the caller's memory, split over the
//!   threads when large.
//! - **Threads**: large kernels (at least [`PARALLEL_THRESHOLD`] element ×
//!   reduction steps) are split into `gidx` ranges over a pool of threads,
//!   each with its own wasmtime `Store` and instance over the same memory
//!   (`pool`). Results do not depend on the thread count.
//! - **Caches**: compiled modules are cached in memory by kernel (the
//!   `Kernel` itself is the key; a compile hit returns the same executable,
//!   reference-counted by `release`) and on disk across processes
//!   (`disk`; a corrupt entry is ignored and rebuilt).
//! - **Routines**: sort, argsort, cumsum, cumprod, cummax and cummin run in
//!   the plugin on its memory (`routines`), FFT in place (`fft`), softmax
//!   natively with an AVX2 `exp` and rows split over the threads
//!   (`softmax`); the others fall back to the host.
//!
//! Options (the plugin's TOML table in `plugins.toml`):
//! - `threads = N`: worker threads (default: the available cores);
//! - `max_memory_mb = N`: the most linear memory to use (default and
//!   maximum 4096, the wasm32 limit);
//! - `cache_dir = "path"`: where compiled modules are kept across runs
//!   (default `$OXJAX_CACHE_DIR/wasm`, `$XDG_CACHE_HOME/oxjax/wasm` or
//!   `~/.cache/oxjax/wasm`); `""` turns the disk cache off; it keeps at
//!   most 4096 modules and 512 MiB, least recently used removed first;
//! - `fma = true | false`: fused multiply-add (relaxed SIMD) inside the
//!   vector transcendentals (default: whether the host CPU has FMA).
//!
//! `execute` runs synchronously, so every call is in order and `read`
//! never waits. `execute_loop` (a `fori_loop`'s launches, ABI 1.4) binds
//! each launch of its body once and loops under one lock: a launch is then
//! a copy of its argument block and a call of the instance's `run`, about
//! 0.05 µs beside the kernel's own work.

mod alloc;
pub mod codegen;
mod disk;
#[allow(clippy::approx_constant, clippy::excessive_precision)]
mod erf_coeffs;
mod fb;
mod fft;
mod math;
mod matmul;
mod pool;
mod routines;
mod softmax;
mod vmath;

use alloc::Allocator;
use oxjax_abi::{
    Backend, BackendError, BackendInfo, BufferId, Capabilities, ErrorKind, ExecutableId, FastMap,
    Kernel, Launch, Routine, RoutineKind,
};
use pool::{Pool, Worker};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use wasmtime::{Engine, Module, SharedMemory};

/// Kernels with less work than this (output elements times reduction
/// length) run on the calling thread alone.
pub const PARALLEL_THRESHOLD: u64 = 64 * 1024;

/// Readbacks get one thread per this many bytes (up to `threads`): below
/// it a thread's start costs more than its share of the copy.
const PARALLEL_COPY_BYTES: usize = 2 << 20;

/// Modules kept in memory after their executables are released.
const MAX_CACHED_MODULES: usize = 2048;

/// Parsed plugin options.
#[derive(Clone, Debug)]
pub struct Options {
    pub threads: usize,
    pub max_memory: u64,
    pub cache_dir: Option<std::path::PathBuf>,
    /// What the generated code may use (fused multiply-add).
    pub target: codegen::Target,
}

impl Options {
    /// Parses the options TOML; unknown keys and bad values are errors.
    pub fn parse(text: &str) -> Result<Options, BackendError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e| invalid(format!("wasm backend options are not valid TOML: {e}")))?;
        let mut opts = Options {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_memory: 4 << 30,
            cache_dir: disk::default_dir(),
            target: codegen::Target::host(),
        };
        for (key, value) in &table {
            let int = || {
                value
                    .as_integer()
                    .filter(|&v| v >= 1)
                    .ok_or_else(|| invalid(format!("option `{key}` must be a positive integer")))
            };
            match key.as_str() {
                "threads" => opts.threads = int()?.min(256) as usize,
                "max_memory_mb" => opts.max_memory = (int()? as u64).min(4096) << 20,
                "cache_dir" => {
                    let dir = value
                        .as_str()
                        .ok_or_else(|| invalid("option `cache_dir` must be a string"))?;
                    opts.cache_dir = (!dir.is_empty()).then(|| dir.into());
                }
                "fma" => {
                    opts.target.fma = value
                        .as_bool()
                        .ok_or_else(|| invalid("option `fma` must be true or false"))?;
                }
                other => {
                    return Err(invalid(format!(
                        "unknown option `{other}` for the wasm backend (known: threads, max_memory_mb, cache_dir, fma)"
                    )));
                }
            }
        }
        Ok(opts)
    }
}

fn invalid(message: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::INVALID_ARGUMENT, message)
}

fn exec_error(message: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::EXECUTION, message)
}

/// A compiled kernel.
pub(crate) struct Compiled {
    /// Unique per compiled module: the key of the workers' instance caches.
    pub serial: u64,
    pub kernel: Kernel,
    pub module: Module,
    pub wasm: Vec<u8>,
    /// Thread ranges of `gidx` start at multiples of this.
    pub granule: u32,
    /// The module uses its thread's scratch memory (matmul panels, sums).
    pub scratch: bool,
}

struct ExeEntry {
    compiled: Arc<Compiled>,
    refs: usize,
}

#[derive(Clone, Copy)]
struct Buf {
    addr: u32,
    len: u64,
    /// Holds a freed buffer's stale bytes: zeroed on first use, unless that
    /// use overwrites the whole buffer (so outputs are never zeroed twice).
    dirty: bool,
}

/// A compiled routine: run natively on the memory (FFT in place, softmax)
/// or on a host copy of its input (the others).
#[derive(Clone)]
enum RoutinePlan {
    Host(routines::Plan),
    Fft(fft::FftPlan),
    Softmax(softmax::SoftmaxPlan),
}

impl RoutinePlan {
    fn routine(&self) -> &Routine {
        match self {
            RoutinePlan::Host(p) => &p.routine,
            RoutinePlan::Fft(p) => &p.routine,
            RoutinePlan::Softmax(p) => &p.routine,
        }
    }
}

struct State {
    alloc: Allocator,
    buffers: FastMap<u64, Buf>,
    exes: FastMap<u64, ExeEntry>,
    /// The live executable of each kernel (compile hits return it).
    by_kernel: FastMap<Kernel, u64>,
    /// Every module compiled so far, by kernel (survives `release`).
    modules: FastMap<Kernel, Arc<Compiled>>,
    /// Compiled routines, by executable id.
    routines: FastMap<u64, RoutinePlan>,
    /// Scratch memory for packed matmul panels, `SCRATCH_BYTES` per thread
    /// (the calling thread's first), allocated when first needed.
    scratch: Option<u32>,
    next_id: u64,
    /// The calling thread's wasm instance store.
    main: Worker,
    /// The last kernel argument block (its allocation reused).
    args: Vec<u8>,
}

/// The WASM backend.
pub struct WasmBackend {
    engine: Engine,
    memory: SharedMemory,
    opts: Options,
    state: Mutex<State>,
    pool: Pool,
    serial: AtomicU64,
    disk: Option<disk::DiskCache>,
    disk_hits: AtomicU64,
    /// FFT plans, made once per size.
    planners: fft::Planners,
}

/// Creates the backend from its options.
pub fn new(options: &str) -> Result<WasmBackend, BackendError> {
    let opts = Options::parse(options)?;
    let mut config = wasmtime::Config::new();
    config
        .wasm_threads(true)
        .shared_memory(true)
        .wasm_simd(true)
        .wasm_relaxed_simd(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    let engine = Engine::new(&config)
        .map_err(|e| BackendError::new(ErrorKind::DEVICE, format!("wasmtime engine: {e}")))?;
    let max_pages = (opts.max_memory >> 16).clamp(2, codegen::MAX_PAGES) as u32;
    let memory =
        SharedMemory::new(&engine, wasmtime::MemoryType::shared(1, max_pages)).map_err(|e| {
            BackendError::new(
                ErrorKind::OUT_OF_MEMORY,
                format!("cannot create the linear memory: {e}"),
            )
        })?;
    let main = Worker::new(&engine, &memory);
    let pool = Pool::new(&engine, &memory, opts.threads.saturating_sub(1));
    Ok(WasmBackend {
        state: Mutex::new(State {
            alloc: Allocator::new(codegen::ARGS_BYTES as u64, max_pages as u64 * 65536),
            buffers: FastMap::default(),
            exes: FastMap::default(),
            by_kernel: Default::default(),
            modules: Default::default(),
            routines: FastMap::default(),
            scratch: None,
            next_id: 0,
            main,
            args: Vec::new(),
        }),
        engine: engine.clone(),
        memory,
        opts: opts.clone(),
        pool,
        serial: AtomicU64::new(0),
        disk: opts
            .cache_dir
            .as_deref()
            .and_then(|d| disk::DiskCache::new(d, &engine)),
        disk_hits: AtomicU64::new(0),
        planners: fft::Planners::default(),
    })
}

oxjax_abi::export_backend!(new);

// The differential tests (tests/*.rs) run as unit tests; see Cargo.toml.
#[cfg(test)]
extern crate self as oxjax_backend_wasm;
#[cfg(test)]
#[path = "../tests/mod.rs"]
mod tests;

impl WasmBackend {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The number of threads kernels are split over.
    pub fn threads(&self) -> usize {
        self.opts.threads
    }

    fn base(&self) -> *mut u8 {
        self.memory.data().as_ptr() as *mut u8
    }

    /// Copies `data` into linear memory at `addr` (in bounds, checked by the caller).
    fn mem_write(&self, addr: u64, data: &[u8]) {
        assert!(addr + data.len() as u64 <= self.memory.data_size() as u64);
        // SAFETY: in bounds; no wasm code runs while the state lock is held
        // by the caller, so nothing else touches these bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.base().add(addr as usize), data.len())
        }
    }

    fn mem_fill_zero(&self, addr: u64, len: u64) {
        assert!(addr + len <= self.memory.data_size() as u64);
        // SAFETY: as in `mem_write`.
        unsafe { std::ptr::write_bytes(self.base().add(addr as usize), 0, len as usize) }
    }

    /// Copies `dst.len()` bytes from `addr` into `dst`. Large copies are
    /// split over the configured threads: a fresh destination is mostly page
    /// faults, and those proceed in parallel too.
    fn mem_read_into(&self, addr: u64, dst: &mut [u8]) {
        assert!(addr + dst.len() as u64 <= self.memory.data_size() as u64);
        // SAFETY: in bounds (checked above); no wasm code runs while the
        // state lock is held by the caller, so nothing writes these bytes.
        let src = unsafe {
            std::slice::from_raw_parts(self.base().add(addr as usize).cast_const(), dst.len())
        };
        let parts = self
            .opts
            .threads
            .min(dst.len() / PARALLEL_COPY_BYTES)
            .max(1);
        if parts == 1 {
            dst.copy_from_slice(src);
            return;
        }
        let chunk = dst.len().div_ceil(parts);
        std::thread::scope(|scope| {
            let mut pieces = dst.chunks_mut(chunk).zip(src.chunks(chunk));
            let (d0, s0) = pieces.next().expect("at least one piece");
            for (d, s) in pieces {
                scope.spawn(move || d.copy_from_slice(s));
            }
            d0.copy_from_slice(s0);
        });
    }

    /// The input and output blocks of a routine of one input and one
    /// output (FFT, softmax, the host-run routines), settled and checked to
    /// hold `need_in` and `need_out` bytes.
    fn routine_blocks(
        &self,
        st: &mut State,
        name: &str,
        inputs: &[BufferId],
        outputs: &[BufferId],
        need_in: u64,
        need_out: u64,
    ) -> Result<(Buf, Buf), BackendError> {
        let ([i], [o]) = (inputs, outputs) else {
            return Err(invalid(format!(
                "routine {name} takes 1 input and 1 output, got {} and {}",
                inputs.len(),
                outputs.len()
            )));
        };
        let bi = self.settle(st, *i, false)?;
        let whole = st.buffer(*o)?.len <= need_out;
        let bo = self.settle(st, *o, whole)?;
        if bi.len < need_in || bo.len < need_out {
            return Err(invalid(format!(
                "routine {name}: input holds {} bytes (needs {need_in}), output {} (needs {need_out})",
                bi.len, bo.len
            )));
        }
        Ok((bi, bo))
    }

    /// The buffer `id`, zeroed first if it is dirty and the coming use does
    /// not overwrite all of it (`whole`).
    fn settle(&self, st: &mut State, id: BufferId, whole: bool) -> Result<Buf, BackendError> {
        let b = st.buffer(id)?;
        if b.dirty {
            if !whole {
                self.mem_fill_zero(b.addr as u64, b.len);
            }
            st.buffers.get_mut(&id.0).expect("present").dirty = false;
        }
        Ok(b)
    }

    fn compile_module(&self, kernel: &Kernel) -> Result<Arc<Compiled>, BackendError> {
        let (wasm, granule) = codegen::generate_with(kernel, self.opts.target);
        let cached = self.disk.as_ref().and_then(|d| d.load(&self.engine, &wasm));
        let module = match cached {
            Some(m) => {
                self.disk_hits.fetch_add(1, Ordering::Relaxed);
                m
            }
            None => {
                let m = Module::new(&self.engine, &wasm).map_err(|e| {
                    BackendError::new(
                        ErrorKind::COMPILE,
                        format!("wasmtime rejected the module: {e:#}\nkernel:\n{kernel}"),
                    )
                })?;
                if let Some(d) = &self.disk {
                    d.store(&m, &wasm);
                }
                m
            }
        };
        Ok(Arc::new(Compiled {
            serial: self.serial.fetch_add(1, Ordering::Relaxed),
            kernel: kernel.clone(),
            module,
            wasm,
            granule,
            scratch: matmul::analyse(kernel).is_some_and(|m| matmul::uses_scratch(kernel, &m)),
        }))
    }

    /// Checks a kernel launch's buffers, zeroing the dirty ones it does not
    /// overwrite, and writes its argument block into `args`.
    fn bind(
        &self,
        st: &mut State,
        k: &Kernel,
        inputs: &[BufferId],
        outputs: &[BufferId],
        args: &mut Vec<u8>,
    ) -> Result<(), BackendError> {
        if inputs.len() != k.inputs.len() || outputs.len() != k.outputs.len() {
            return Err(invalid(format!(
                "kernel takes {} inputs and {} outputs, got {} and {}",
                k.inputs.len(),
                k.outputs.len(),
                inputs.len(),
                outputs.len()
            )));
        }
        args.clear();
        for (j, &id) in inputs.iter().enumerate() {
            let b = self.settle(st, id, false)?;
            let elems = b.len / k.inputs[j].size() as u64;
            args.extend_from_slice(&b.addr.to_le_bytes());
            args.extend_from_slice(&(elems.min(i32::MAX as u64) as u32).to_le_bytes());
        }
        for (o, &id) in outputs.iter().enumerate() {
            let need = k.size as u64 * k.output_dtype(o).size() as u64;
            let b = self.settle(st, id, st.buffer(id)?.len <= need)?;
            if b.len < need {
                return Err(invalid(format!(
                    "output {o} (buffer {}) holds {} bytes, needs {need}",
                    id.0, b.len
                )));
            }
            args.extend_from_slice(&b.addr.to_le_bytes());
        }
        Ok(())
    }

    /// Runs a kernel whose argument block is in place: on this thread, or
    /// split over the pool when it is large.
    fn run(&self, st: &mut State, compiled: &Arc<Compiled>) -> Result<(), BackendError> {
        let k = &compiled.kernel;
        let size = k.size as i32;
        if size == 0 {
            return Ok(());
        }
        // this thread's scratch, then the workers' (0: none, or no memory)
        let scratch = if compiled.scratch {
            self.scratch(st)
        } else {
            0
        };
        let slot = |w: usize| {
            if scratch == 0 {
                0
            } else {
                scratch + w as u32 * matmul::SCRATCH_BYTES
            }
        };
        let work = k.size as u64 * (k.rsize as u64).max(1);
        let threads = self.opts.threads.min(k.size as usize);
        if threads <= 1 || work < PARALLEL_THRESHOLD {
            return st.main.run(compiled, 0, size, slot(0)).map_err(exec_error);
        }
        // Split gidx into `threads` contiguous ranges: the first runs here.
        let g = compiled.granule.max(1) as u64;
        let bounds: Vec<i32> = (0..=threads)
            .map(|t| {
                let b = k.size as u64 * t as u64 / threads as u64;
                (if t == threads { b } else { b / g * g }) as i32
            })
            .collect();
        let slots: Vec<u32> = (1..threads).map(slot).collect();
        let pending = self.pool.submit(compiled, &bounds[1..], &slots);
        let mine = st.main.run(compiled, bounds[0], bounds[1], slot(0));
        let theirs = pending.wait();
        mine.and(theirs).map_err(exec_error)
    }

    /// The scratch memory of all threads (allocated on first use); 0 when
    /// the memory cannot hold it, and then kernels do without.
    fn scratch(&self, st: &mut State) -> u32 {
        if st.scratch.is_none() {
            let bytes = self.opts.threads as u64 * matmul::SCRATCH_BYTES as u64;
            st.scratch = st.alloc.alloc(bytes, &self.memory).ok().map(|a| a.0 as u32);
        }
        st.scratch.unwrap_or(0)
    }

    /// How many `gidx` ranges the pool's worker threads have run.
    pub fn worker_jobs(&self) -> u64 {
        self.pool.jobs.load(Ordering::Relaxed)
    }

    /// How many modules were loaded from the disk cache instead of compiled.
    pub fn disk_cache_hits(&self) -> u64 {
        self.disk_hits.load(Ordering::Relaxed)
    }

    /// The disk cache file a kernel's module is stored in, if the cache is on.
    pub fn disk_cache_path(&self, kernel: &Kernel) -> Option<std::path::PathBuf> {
        self.disk
            .as_ref()
            .map(|d| d.path(&codegen::generate(kernel, self.opts.target)))
    }

    /// The compiled module of an executable (for tests and tools).
    pub fn wasm_bytes(&self, exe: ExecutableId) -> Option<Vec<u8>> {
        let st = self.lock();
        st.exes.get(&exe.0).map(|e| e.compiled.wasm.clone())
    }
}

fn range_check(id: BufferId, b: Buf, offset: u64, len: u64) -> Result<(), BackendError> {
    match offset.checked_add(len) {
        Some(end) if end <= b.len => Ok(()),
        _ => Err(invalid(format!(
            "range out of bounds: buffer {} (size {} bytes), offset {offset}, len {len}",
            id.0, b.len
        ))),
    }
}

impl State {
    fn buffer(&self, id: BufferId) -> Result<Buf, BackendError> {
        self.buffers
            .get(&id.0)
            .copied()
            .ok_or_else(|| invalid(format!("unknown buffer id {}", id.0)))
    }
}

impl Backend for WasmBackend {
    fn info(&self) -> BackendInfo {
        let mut kinds = routines::KINDS.to_vec();
        kinds.extend([RoutineKind::FFT, RoutineKind::SOFTMAX]);
        let mut caps = Capabilities::everything(&kinds);
        caps.max_inputs = codegen::MAX_BINDINGS / 2;
        BackendInfo {
            name: "wasm".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            device: format!(
                "wasmtime 48 (Cranelift), {} thread{}",
                self.opts.threads,
                if self.opts.threads == 1 { "" } else { "s" }
            )
            .into(),
            caps,
        }
    }

    fn alloc(&self, bytes: u64) -> Result<BufferId, BackendError> {
        let mut st = self.lock();
        let (addr, fresh) = if bytes == 0 {
            (codegen::ARGS_ADDR as u64, true)
        } else {
            st.alloc.alloc(bytes, &self.memory)?
        };
        st.next_id += 1;
        let id = st.next_id;
        st.buffers.insert(
            id,
            Buf {
                addr: addr as u32,
                len: bytes,
                dirty: !fresh,
            },
        );
        Ok(BufferId(id))
    }

    fn free(&self, buffer: BufferId) {
        let mut st = self.lock();
        if let Some(b) = st.buffers.remove(&buffer.0)
            && b.len > 0
        {
            st.alloc.free(b.addr as u64, b.len);
        }
    }

    fn write(&self, buffer: BufferId, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        let mut st = self.lock();
        range_check(buffer, st.buffer(buffer)?, offset, data.len() as u64)?;
        let whole = offset == 0 && data.len() as u64 == st.buffer(buffer)?.len;
        let b = self.settle(&mut st, buffer, whole)?;
        self.mem_write(b.addr as u64 + offset, data);
        Ok(())
    }

    fn read(&self, buffer: BufferId, offset: u64, len: u64) -> Result<Vec<u8>, BackendError> {
        let mut out = vec![0u8; len as usize];
        self.read_into(buffer, offset, &mut out)?;
        Ok(out)
    }

    fn read_into(&self, buffer: BufferId, offset: u64, dst: &mut [u8]) -> Result<(), BackendError> {
        let mut st = self.lock();
        let b = self.settle(&mut st, buffer, false)?;
        range_check(buffer, b, offset, dst.len() as u64)?;
        self.mem_read_into(b.addr as u64 + offset, dst);
        Ok(())
    }

    fn compile(&self, kernel: &Kernel) -> Result<ExecutableId, BackendError> {
        kernel
            .validate()
            .map_err(|e| invalid(format!("invalid kernel: {e}\n{kernel}")))?;
        let bindings = kernel.inputs.len() * 2 + kernel.outputs.len();
        if bindings > codegen::MAX_BINDINGS as usize {
            return Err(BackendError::new(
                ErrorKind::UNSUPPORTED,
                format!(
                    "kernel binds {} inputs and {} outputs, too many for the argument block",
                    kernel.inputs.len(),
                    kernel.outputs.len()
                ),
            ));
        }
        let cached = {
            let mut st = self.lock();
            if let Some(&id) = st.by_kernel.get(kernel) {
                st.exes.get_mut(&id).expect("live executable").refs += 1;
                return Ok(ExecutableId(id));
            }
            st.modules.get(kernel).cloned()
        };
        let compiled = match cached {
            Some(c) => c,
            None => self.compile_module(kernel)?,
        };
        let mut st = self.lock();
        // Another thread may have compiled the same kernel meanwhile.
        if let Some(&id) = st.by_kernel.get(kernel) {
            st.exes.get_mut(&id).expect("live executable").refs += 1;
            return Ok(ExecutableId(id));
        }
        if st.modules.len() >= MAX_CACHED_MODULES {
            // Forget the modules of released executables (the disk cache
            // still has them).
            let live: std::collections::HashSet<Kernel> = st.by_kernel.keys().cloned().collect();
            st.modules.retain(|k, _| live.contains(k));
        }
        st.modules.insert(kernel.clone(), compiled.clone());
        st.next_id += 1;
        let id = st.next_id;
        st.by_kernel.insert(kernel.clone(), id);
        st.exes.insert(id, ExeEntry { compiled, refs: 1 });
        Ok(ExecutableId(id))
    }

    fn compile_routine(&self, routine: &Routine) -> Result<ExecutableId, BackendError> {
        let mut st = self.lock();
        let id = st.next_id + 1;
        let plan = match routine.kind {
            RoutineKind::FFT => RoutinePlan::Fft(fft::FftPlan::new(routine, &self.planners)?),
            RoutineKind::SOFTMAX => RoutinePlan::Softmax(softmax::SoftmaxPlan::new(routine)?),
            _ => RoutinePlan::Host(routines::Plan::new(routine)?),
        };
        st.routines.insert(id, plan);
        st.next_id = id;
        Ok(ExecutableId(id))
    }

    fn execute(
        &self,
        exe: ExecutableId,
        inputs: &[BufferId],
        outputs: &[BufferId],
    ) -> Result<(), BackendError> {
        let mut guard = self.lock();
        let st = &mut *guard;
        if let Some(plan) = st.routines.get(&exe.0).cloned() {
            let name = plan.routine().kind.name();
            match plan {
                RoutinePlan::Fft(plan) => {
                    let need = plan.bytes();
                    let (bi, bo) = self.routine_blocks(st, name, inputs, outputs, need, need)?;
                    // SAFETY: both regions are in bounds (allocated blocks of
                    // at least `need` bytes, 64-byte aligned); no wasm code
                    // runs while the state lock is held, and the copy
                    // handles overlap.
                    unsafe {
                        let base = self.base();
                        let dst = base.add(bo.addr as usize);
                        std::ptr::copy(base.add(bi.addr as usize), dst, need as usize);
                        plan.run(dst);
                    }
                }
                RoutinePlan::Softmax(plan) => {
                    let need = plan.bytes();
                    let (bi, bo) = self.routine_blocks(st, name, inputs, outputs, need, need)?;
                    // SAFETY: both regions are in bounds, 64-byte aligned,
                    // and the same block or disjoint blocks; no wasm code
                    // runs while the state lock is held.
                    unsafe {
                        let base = self.base();
                        plan.run(
                            base.add(bi.addr as usize),
                            base.add(bo.addr as usize),
                            self.opts.threads,
                        );
                    }
                }
                RoutinePlan::Host(plan) => {
                    let (ni, no) = (plan.input_bytes(), plan.output_bytes());
                    let (bi, bo) = self.routine_blocks(st, name, inputs, outputs, ni, no)?;
                    let mut input = vec![0u8; ni as usize];
                    self.mem_read_into(bi.addr as u64, &mut input);
                    let out = plan.run(&input);
                    self.mem_write(bo.addr as u64, &out);
                }
            }
            return Ok(());
        }
        let compiled = st
            .exes
            .get(&exe.0)
            .ok_or_else(|| invalid(format!("unknown executable id {}", exe.0)))?
            .compiled
            .clone();
        let mut args = std::mem::take(&mut st.args);
        self.bind(st, &compiled.kernel, inputs, outputs, &mut args)?;
        self.mem_write(codegen::ARGS_ADDR as u64, &args);
        st.args = args;
        self.run(st, &compiled)
    }

    /// Binds every launch once (its argument block built up front), then
    /// makes the launches under one lock: each is a copy of its block and a
    /// call of the instance's `run` (large kernels split over the threads
    /// as in `execute`). A body with a routine runs launch by launch.
    fn execute_loop(&self, body: &[Launch], count: u64) -> Result<(), BackendError> {
        let mut guard = self.lock();
        if count == 0 || body.is_empty() || body.iter().any(|l| !guard.exes.contains_key(&l.exe.0))
        {
            drop(guard);
            return oxjax_abi::launch_by_launch(body, count, |l| {
                self.execute(l.exe, &l.inputs, &l.outputs)
            });
        }
        let st = &mut *guard;
        let mut bound = Vec::with_capacity(body.len());
        for l in body {
            let compiled = st.exes[&l.exe.0].compiled.clone();
            let mut args = Vec::new();
            self.bind(st, &compiled.kernel, &l.inputs, &l.outputs, &mut args)?;
            bound.push((compiled, args));
        }
        // `mem_write` without its per-call size check (a shared memory's
        // length is behind a lock): every block fits the reserved area.
        assert!(
            bound
                .iter()
                .all(|(_, a)| a.len() <= codegen::ARGS_BYTES as usize)
        );
        let at = self.base().wrapping_add(codegen::ARGS_ADDR as usize);
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        for (compiled, args) in bound.iter().cycle().take(count) {
            // SAFETY: the area at ARGS_ADDR is inside the memory, whose base
            // never moves (a shared memory is reserved whole), and no wasm
            // code runs between launches while the state lock is held.
            unsafe { std::ptr::copy_nonoverlapping(args.as_ptr(), at, args.len()) };
            self.run(st, compiled)?;
        }
        Ok(())
    }

    fn release(&self, exe: ExecutableId) {
        let mut st = self.lock();
        st.routines.remove(&exe.0);
        if let Some(e) = st.exes.get_mut(&exe.0) {
            e.refs -= 1;
            if e.refs == 0 {
                let e = st.exes.remove(&exe.0).expect("present");
                st.by_kernel.remove(&e.compiled.kernel);
            }
        }
    }

    /// The module as WAT text.
    fn source(&self, exe: ExecutableId) -> String {
        let st = self.lock();
        if let Some(r) = st.routines.get(&exe.0).map(RoutinePlan::routine) {
            return format!(";; routine run by the plugin on its memory: {r:?}");
        }
        match st.exes.get(&exe.0) {
            Some(e) => wasmprinter::print_bytes(&e.compiled.wasm)
                .unwrap_or_else(|err| format!(";; cannot print the module: {err}")),
            None => String::new(),
        }
    }
}
