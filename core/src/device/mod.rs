//! Devices: backend instances loaded from plugins, with their buffers and
//! compiled-kernel cache. See [`registry`] for how devices are found.

mod concrete;
mod config;
mod loader;
pub mod registry;
mod watchdog;

pub use registry::{
    DeviceEntry, DeviceReport, Registry, Status, config_file, default_device,
    default_device_choice, device, device_report, devices, try_default_device, with_default_device,
};

use crate::error::{Error, ErrorKind, Result};
pub(crate) use concrete::{Concrete, Source};
use oxjax_abi::__private::RResult;
use oxjax_abi::{
    BackendError, BackendInfo, BackendObj, BufferId, ExecutableId, FastMap, Kernel, Launch, Routine,
};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A backend instance. Cheap to clone; arrays hold one.
#[derive(Clone)]
pub struct Device(Arc<DeviceInner>);

struct DeviceInner {
    name: String,
    backend: BackendObj,
    info: BackendInfo,
    /// The library it came from; `None` for the embedded reference backend.
    library: Option<PathBuf>,
    /// Compiled kernels, keyed by the kernel itself (structural equality).
    cache: Mutex<KernelCache>,
    /// Compiled routines, keyed by their descriptor.
    routines: Mutex<FastMap<Routine, ExecutableId>>,
    launches: AtomicU64,
    /// A deadline on every backend call (`watchdog_ms`), if set.
    watchdog: Option<watchdog::Watchdog>,
}

impl Device {
    pub(crate) fn new(
        name: &str,
        backend: BackendObj,
        library: Option<PathBuf>,
        watchdog: Option<std::time::Duration>,
    ) -> Result<Device> {
        let info = backend.info().into_result().map_err(Error::from)?;
        Ok(Device(Arc::new(DeviceInner {
            name: name.to_string(),
            backend,
            info,
            library,
            cache: Mutex::new(KernelCache::default()),
            routines: Mutex::new(FastMap::default()),
            launches: AtomicU64::new(0),
            watchdog: watchdog.map(|limit| watchdog::Watchdog::new(name, limit)),
        })))
    }

    /// Runs one call into the plugin: directly, or under the watchdog when
    /// one is set (then the call owns what it needs).
    fn call<T: Send + 'static>(
        &self,
        what: &str,
        f: impl FnOnce(&BackendObj) -> RResult<T, BackendError> + Send + 'static,
    ) -> Result<T> {
        match &self.0.watchdog {
            None => Ok(f(&self.0.backend)
                .into_result()
                .map_err(|e| self.backend_err(e))?),
            Some(w) => {
                let dev = self.clone();
                w.run(self.name(), what, move || f(&dev.0.backend).into_result())?
                    .map_err(|e| self.backend_err(e))
            }
        }
    }

    /// A backend's error, with this device as its context.
    fn backend_err(&self, e: BackendError) -> Error {
        Error::from(e).with_device(self.name())
    }

    /// The name given in `plugins.toml` (or `embedded`).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The backend's self-description and capabilities.
    pub fn info(&self) -> &BackendInfo {
        &self.0.info
    }

    /// The backend object itself, for testing the backend contract call by
    /// call (the conformance suite's contract layer). Programs never need
    /// it: arrays own their buffers and the device its kernels.
    pub fn backend(&self) -> &BackendObj {
        &self.0.backend
    }

    /// The plugin library this device was loaded from, if any.
    pub fn library(&self) -> Option<&std::path::Path> {
        self.0.library.as_deref()
    }

    /// How many compiled kernels this device holds (at most 1024; the least
    /// recently used are released beyond that).
    pub fn cached_kernels(&self) -> usize {
        self.0.cache.lock().unwrap().map.len()
    }

    /// How many kernels this device has run (tests assert fusion with it).
    pub fn kernel_launches(&self) -> u64 {
        self.0.launches.load(Ordering::Relaxed)
    }

    /// Whether two handles name the same device.
    pub fn same(&self, other: &Device) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Allocates a zeroed buffer.
    pub(crate) fn alloc(&self, bytes: usize) -> Result<Arc<Buffer>> {
        let id = self.call("alloc", move |b| b.alloc(bytes as u64))?;
        Ok(Arc::new(Buffer {
            device: self.clone(),
            id,
            bytes,
        }))
    }

    /// Allocates a buffer holding `data`.
    pub(crate) fn upload(&self, data: &[u8]) -> Result<Arc<Buffer>> {
        let buf = self.alloc(data.len())?;
        let id = buf.id;
        match self.0.watchdog {
            None => self
                .0
                .backend
                .write(id, 0, data.into())
                .into_result()
                .map_err(|e| self.backend_err(e))?,
            Some(_) => {
                let data = data.to_vec();
                self.call("write", move |b| b.write(id, 0, data.as_slice().into()))?
            }
        }
        Ok(buf)
    }

    /// Reads a whole buffer (waits for pending work).
    pub(crate) fn download(&self, buf: &Buffer) -> Result<Vec<u8>> {
        let mut bytes = vec![0u8; buf.bytes];
        self.read_into(buf, &mut bytes)?;
        Ok(bytes)
    }

    /// Reads a whole buffer into `dst` (exactly its size), one copy.
    pub(crate) fn read_into(&self, buf: &Buffer, dst: &mut [u8]) -> Result<()> {
        debug_assert_eq!(dst.len(), buf.bytes);
        let (id, len) = (buf.id, dst.len() as u64);
        match self.0.watchdog {
            None => self
                .0
                .backend
                .read_into(id, 0, dst.into())
                .into_result()
                .map_err(|e| self.backend_err(e))?,
            Some(_) => {
                let bytes = self.call("read", move |b| b.read(id, 0, len))?;
                dst.copy_from_slice(bytes.as_slice())
            }
        }
        Ok(())
    }

    /// Compiles a kernel, or returns the cached executable for an equal one.
    /// On a miss the backend gets the kernel with its load indices
    /// simplified (`Kernel::simplified`): done here, once per distinct
    /// kernel, rather than in the builders, where it would cost every eager
    /// op its dispatch time.
    pub(crate) fn compile(&self, kernel: &Kernel) -> Result<ExecutableId> {
        self.compile_as(kernel, true)
    }

    /// [`Device::compile`]; `simplify: false` hands the backend the kernel
    /// as written (the conformance suite tests the IR as it builds it).
    fn compile_as(&self, kernel: &Kernel, simplify: bool) -> Result<ExecutableId> {
        if let Some(exe) = self.0.cache.lock().unwrap().get(kernel) {
            return Ok(exe);
        }
        if let Err(why) = kernel.validate() {
            return Err(Error::new(
                ErrorKind::Execution,
                format!("internal error: invalid kernel: {why}\n{kernel}"),
            ));
        }
        if let Err(why) = self.0.info.caps.check(kernel) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "device '{}' ({}) cannot run this kernel: {why}\n{kernel}",
                    self.name(),
                    self.0.info.name
                ),
            ));
        }
        let k = if simplify {
            kernel.simplified()
        } else {
            kernel.clone()
        };
        // What the backend got (the simplified kernel), for OXJAX_DEBUG.
        let level = crate::debug::level();
        let shown = match level {
            0 => None,
            1 => Some(format!(
                " size={} rsize={} inputs={} nodes={}",
                k.size,
                k.rsize,
                k.inputs.len(),
                k.nodes.len()
            )),
            _ => Some(format!("\n{k}")),
        };
        let exe = self.call("compile", move |b| b.compile(&k))?;
        if let Some(shown) = shown {
            eprintln!("[oxjax] compiled on '{}':{shown}", self.name());
            if level >= 3 {
                let src = self.call("source", move |b| b.source(exe))?;
                if !src.is_empty() {
                    eprintln!("[oxjax] generated code:\n{src}");
                }
            }
        }
        let evicted = self.0.cache.lock().unwrap().insert(kernel.clone(), exe);
        if !evicted.is_empty() {
            // Queued launches may still use them: wait, then release.
            self.synchronize()?;
            for old in evicted {
                self.call("release", move |b| b.release(old))?;
            }
        }
        Ok(exe)
    }

    /// Compiles (cached) and runs a kernel.
    pub(crate) fn launch(
        &self,
        kernel: &Kernel,
        inputs: &[BufferId],
        outputs: &[BufferId],
    ) -> Result<()> {
        self.launch_as(kernel, inputs, outputs, true)
    }

    fn launch_as(
        &self,
        kernel: &Kernel,
        inputs: &[BufferId],
        outputs: &[BufferId],
        simplify: bool,
    ) -> Result<()> {
        let exe = self.compile_as(kernel, simplify)?;
        self.launch_compiled(exe, kernel, inputs, outputs)
    }

    /// Runs `kernel`, already compiled to `exe` (a loop binds its body's
    /// executables once and launches them many times).
    pub(crate) fn launch_compiled(
        &self,
        exe: ExecutableId,
        kernel: &Kernel,
        inputs: &[BufferId],
        outputs: &[BufferId],
    ) -> Result<()> {
        self.0.launches.fetch_add(1, Ordering::Relaxed);
        if let Some(w) = &self.0.watchdog {
            w.launching(kernel);
        }
        self.execute(exe, inputs, outputs)
    }

    /// Makes `count` launches going round `body` (`kernels[i]` is what
    /// `body[i]` runs) in one call into the plugin, its `execute_loop`: a
    /// loop's body is two iterations with the carries swapped. Under a
    /// watchdog the launches go one call each, so its deadline stays per
    /// kernel rather than per loop.
    pub(crate) fn launch_loop(
        &self,
        kernels: &[&Kernel],
        body: &[Launch],
        count: u64,
    ) -> Result<()> {
        debug_assert_eq!(kernels.len(), body.len());
        if self.0.watchdog.is_some() {
            let launches = kernels.iter().zip(body).cycle();
            for (k, l) in launches.take(usize::try_from(count).unwrap_or(usize::MAX)) {
                self.launch_compiled(l.exe, k, &l.inputs, &l.outputs)?;
            }
            return Ok(());
        }
        self.0.launches.fetch_add(count, Ordering::Relaxed);
        self.0
            .backend
            .execute_loop(body.into(), count)
            .into_result()
            .map_err(|e| self.backend_err(e))
    }

    fn execute(&self, exe: ExecutableId, inputs: &[BufferId], outputs: &[BufferId]) -> Result<()> {
        match self.0.watchdog {
            None => Ok(self
                .0
                .backend
                .execute(exe, inputs.into(), outputs.into())
                .into_result()
                .map_err(|e| self.backend_err(e))?),
            Some(_) => {
                let (i, o) = (inputs.to_vec(), outputs.to_vec());
                self.call("execute", move |b| {
                    b.execute(exe, i.as_slice().into(), o.as_slice().into())
                })
            }
        }
    }

    /// Runs a routine on dense input buffers and returns its output
    /// buffers: natively when the backend lists the routine's kind, else
    /// on the host (`routines::run_host`: faer, a blocked GEMM or rustfft
    /// where a native crate does the job, else the reference backend; the
    /// data moves there and back), so every device runs every routine.
    pub(crate) fn run_routine(
        &self,
        routine: &Routine,
        inputs: &[&Buffer],
    ) -> Result<Vec<Arc<Buffer>>> {
        let bytes =
            |d: &oxjax_abi::TensorDesc| d.shape.iter().product::<u64>() as usize * d.dtype.size();
        if !self.0.info.caps.supports_routine(routine.kind) {
            let host: Vec<Vec<u8>> = inputs
                .iter()
                .map(|b| self.download(b))
                .collect::<Result<_>>()?;
            let refs: Vec<&[u8]> = host.iter().map(Vec::as_slice).collect();
            let outs = crate::routines::run_host(routine, &refs)?;
            return outs.iter().map(|o| self.upload(o)).collect();
        }
        let cached = self.0.routines.lock().unwrap().get(routine).copied();
        let exe = match cached {
            Some(exe) => exe,
            None => {
                let r = routine.clone();
                let exe = self.call("compile_routine", move |b| b.compile_routine(&r))?;
                self.0.routines.lock().unwrap().insert(routine.clone(), exe);
                exe
            }
        };
        let outs = routine
            .outputs
            .iter()
            .map(|d| self.alloc(bytes(d)))
            .collect::<Result<Vec<_>>>()?;
        let in_ids: Vec<BufferId> = inputs.iter().map(|b| b.id).collect();
        let out_ids: Vec<BufferId> = outs.iter().map(|b| b.id).collect();
        self.0.launches.fetch_add(1, Ordering::Relaxed);
        self.execute(exe, &in_ids, &out_ids)?;
        Ok(outs)
    }

    /// Low level: runs one kernel on byte buffers (one per kernel input,
    /// little-endian elements) and returns its outputs' bytes. The
    /// conformance suite and backend authors use this to test the IR
    /// contract directly.
    pub fn run_kernel(&self, kernel: &Kernel, inputs: &[Vec<u8>]) -> Result<Vec<Vec<u8>>> {
        if let Err(e) = kernel.validate() {
            return Err(Error::new(
                ErrorKind::Value,
                format!("run_kernel: invalid kernel: {e}\n{kernel}"),
            ));
        }
        if inputs.len() != kernel.inputs.len() {
            return Err(Error::new(
                ErrorKind::Value,
                format!(
                    "run_kernel: the kernel takes {} inputs, {} given",
                    kernel.inputs.len(),
                    inputs.len()
                ),
            ));
        }
        let ins = inputs
            .iter()
            .map(|b| self.upload(b))
            .collect::<Result<Vec<_>>>()?;
        let outs = (0..kernel.outputs.len())
            .map(|k| self.alloc(kernel.size as usize * kernel.output_dtype(k).size()))
            .collect::<Result<Vec<_>>>()?;
        let in_ids: Vec<BufferId> = ins.iter().map(|b| b.id).collect();
        let out_ids: Vec<BufferId> = outs.iter().map(|b| b.id).collect();
        self.launch_as(kernel, &in_ids, &out_ids, false)?;
        outs.iter().map(|b| self.download(b)).collect()
    }

    /// Waits for all work submitted to this device.
    pub fn synchronize(&self) -> Result<()> {
        self.call("synchronize", |b| b.synchronize())
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Device({} = {} on {})",
            self.name(),
            self.0.info.name,
            self.0.info.device
        )
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for Device {
    fn eq(&self, other: &Device) -> bool {
        self.same(other)
    }
}

/// The most compiled kernels a device keeps. A long-running program that
/// keeps producing new kernels (a closure per request, a Rust scalar that
/// changes every step) would otherwise grow without bound; the least
/// recently used quarter is released when the cache is full, and compiled
/// again if it comes back.
const KERNEL_CACHE: usize = 1024;

/// Compiled kernels with a least-recently-used bound.
#[derive(Default)]
struct KernelCache {
    map: FastMap<Kernel, (ExecutableId, u64)>,
    tick: u64,
}

impl KernelCache {
    fn get(&mut self, k: &Kernel) -> Option<ExecutableId> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(k).map(|e| {
            e.1 = tick;
            e.0
        })
    }

    /// Inserts a kernel; returns the executables evicted to make room.
    fn insert(&mut self, k: Kernel, exe: ExecutableId) -> Vec<ExecutableId> {
        self.tick += 1;
        self.map.insert(k, (exe, self.tick));
        if self.map.len() <= KERNEL_CACHE {
            return Vec::new();
        }
        let mut ticks: Vec<u64> = self.map.values().map(|e| e.1).collect();
        ticks.sort_unstable();
        let cut = ticks[KERNEL_CACHE / 4];
        let mut evicted = Vec::new();
        self.map.retain(|_, e| {
            let keep = e.1 >= cut;
            if !keep {
                evicted.push(e.0);
            }
            keep
        });
        evicted
    }
}

/// A device buffer, freed when the last array using it is dropped.
pub(crate) struct Buffer {
    pub(crate) device: Device,
    pub(crate) id: BufferId,
    pub(crate) bytes: usize,
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // A failure to free cannot be reported from drop; the backend keeps
        // working either way.
        let id = self.id;
        let _ = self.device.call("free", move |b| b.free(id));
    }
}
