//! # oxjax-reference — the reference interpreter
//!
//! A scalar interpreter of the kernel IR on the host CPU: the executable
//! definition of the IR's semantics, written for clarity rather than speed.
//! Every other backend is tested against it.
//!
//! - [`eval`] defines each ALU op on host scalars ([`eval::apply`]) and the
//!   reductions' combining step ([`eval::combine`]);
//! - the kernel interpreter evaluates a kernel one output element at a
//!   time ([`run_kernel`]);
//! - the routines sort, argsort, cumsum, cumprod, cummax, cummin and
//!   scatter are implemented directly ([`run_routine`]); the core also runs
//!   them here for devices that lack one.
//!
//! Buffers are host `Vec<u8>`s; `execute` runs synchronously.
//!
//! The host links it statically (the `embedded` device, host routines,
//! tests' oracle) with [`new`] and [`oxjax_abi::into_object`]; the plugin
//! `oxjax-backend-reference` (backends/reference) only exports it with
//! [`oxjax_abi::export_backend!`].

pub mod eval;
mod kernel;
mod routines;

use kernel::CompiledKernel;
use oxjax_abi::{
    Backend, BackendError, BackendInfo, BufferId, Capabilities, ErrorKind, ExecutableId, Kernel,
    Routine,
};
use routines::CompiledRoutine;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The largest buffer [`Backend::alloc`] hands out: 4 GiB.
pub const MAX_BUFFER_BYTES: u64 = 4 << 30;

/// The reference backend. All state sits behind one mutex; every call
/// completes before it returns.
#[derive(Debug, Default)]
pub struct ReferenceBackend {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    buffers: HashMap<u64, Vec<u8>>,
    executables: HashMap<u64, Exe>,
    /// The last id handed out; buffers and executables share the counter,
    /// so an id of one kind is never a valid id of the other.
    last_id: u64,
}

/// A compiled executable.
#[derive(Debug)]
enum Exe {
    Kernel(CompiledKernel),
    Routine(CompiledRoutine),
}

impl Exe {
    fn output_bytes(&self) -> Vec<usize> {
        match self {
            Exe::Kernel(k) => k.output_bytes(),
            Exe::Routine(r) => r.output_bytes(),
        }
    }

    fn input_count(&self) -> usize {
        match self {
            Exe::Kernel(k) => k.kernel.inputs.len(),
            Exe::Routine(r) => r.routine.inputs.len(),
        }
    }

    /// Checks the input buffers' sizes and runs.
    fn run(&self, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, BackendError> {
        match self {
            // A kernel takes its inputs' element counts from their sizes.
            Exe::Kernel(k) => Ok(k.run(inputs)),
            Exe::Routine(r) => {
                for (k, (data, want)) in inputs.iter().zip(r.input_bytes()).enumerate() {
                    if data.len() < want {
                        return Err(invalid(format!(
                            "input {k} holds {} bytes, routine {} needs {want}",
                            data.len(),
                            r.routine.kind.name()
                        )));
                    }
                }
                Ok(r.run(inputs))
            }
        }
    }
}

fn invalid(message: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::INVALID_ARGUMENT, message)
}

/// Creates the backend from its options, a TOML document. The reference
/// backend has no options: only an empty document (whitespace and comments)
/// is accepted.
pub fn new(options: &str) -> Result<ReferenceBackend, BackendError> {
    let has_content = options.lines().any(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#')
    });
    if has_content {
        return Err(invalid(format!(
            "the reference backend takes no options, got: {}",
            options.trim()
        )));
    }
    Ok(ReferenceBackend::default())
}

/// Runs a kernel on host byte buffers without a backend instance: validates
/// it, then returns one output buffer per kernel output. Input element
/// counts are taken from the buffers' lengths.
pub fn run_kernel(kernel: &Kernel, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, BackendError> {
    let exe = Exe::Kernel(compile_kernel(kernel)?);
    check_inputs(&exe, inputs.len())?;
    exe.run(inputs)
}

/// Runs one of the routines this backend implements (sort, argsort, cumsum,
/// cumprod, cummax, cummin, scatter) on host byte buffers without a backend
/// instance.
pub fn run_routine(routine: &Routine, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, BackendError> {
    let exe = Exe::Routine(CompiledRoutine::new(routine)?);
    check_inputs(&exe, inputs.len())?;
    exe.run(inputs)
}

fn compile_kernel(kernel: &Kernel) -> Result<CompiledKernel, BackendError> {
    kernel.validate().map_err(|e| {
        BackendError::new(ErrorKind::COMPILE, format!("invalid kernel: {e}\n{kernel}"))
    })?;
    Ok(CompiledKernel::new(kernel))
}

fn check_inputs(exe: &Exe, got: usize) -> Result<(), BackendError> {
    let want = exe.input_count();
    if got != want {
        return Err(invalid(format!(
            "executable takes {want} input buffers, got {got}"
        )));
    }
    Ok(())
}

impl State {
    fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    fn buffer(&self, id: BufferId) -> Result<&Vec<u8>, BackendError> {
        self.buffers
            .get(&id.0)
            .ok_or_else(|| invalid(format!("unknown buffer id {}", id.0)))
    }

    fn buffer_mut(&mut self, id: BufferId) -> Result<&mut Vec<u8>, BackendError> {
        self.buffers
            .get_mut(&id.0)
            .ok_or_else(|| invalid(format!("unknown buffer id {}", id.0)))
    }

    fn add_executable(&mut self, exe: Exe) -> ExecutableId {
        let id = self.next_id();
        self.executables.insert(id, exe);
        ExecutableId(id)
    }
}

/// The byte range `offset..offset + len` of buffer `id`, if it lies inside
/// its `size` bytes.
fn range(
    id: BufferId,
    size: usize,
    offset: u64,
    len: u64,
) -> Result<std::ops::Range<usize>, BackendError> {
    offset
        .checked_add(len)
        .filter(|&end| end <= size as u64)
        .map(|end| offset as usize..end as usize)
        .ok_or_else(|| {
            invalid(format!(
                "range out of bounds: buffer {} (size {size} bytes), offset {offset}, len {len}",
                id.0
            ))
        })
}

impl ReferenceBackend {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside a call (caught by the plugin guard) never leaves
        // the state half-updated, so a poisoned lock is still good.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Backend for ReferenceBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "reference".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            device: "host CPU (scalar interpreter)".into(),
            caps: Capabilities::everything(&routines::KINDS),
        }
    }

    fn alloc(&self, bytes: u64) -> Result<BufferId, BackendError> {
        let oom = || {
            BackendError::new(
                ErrorKind::OUT_OF_MEMORY,
                format!("cannot allocate {bytes} bytes (the limit is {MAX_BUFFER_BYTES})"),
            )
        };
        if bytes > MAX_BUFFER_BYTES {
            return Err(oom());
        }
        let n = usize::try_from(bytes).map_err(|_| oom())?;
        let mut data = Vec::new();
        data.try_reserve_exact(n).map_err(|_| oom())?;
        data.resize(n, 0);
        let mut st = self.lock();
        let id = st.next_id();
        st.buffers.insert(id, data);
        Ok(BufferId(id))
    }

    fn free(&self, buffer: BufferId) {
        self.lock().buffers.remove(&buffer.0);
    }

    fn write(&self, buffer: BufferId, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        let mut st = self.lock();
        let buf = st.buffer_mut(buffer)?;
        let r = range(buffer, buf.len(), offset, data.len() as u64)?;
        buf[r].copy_from_slice(data);
        Ok(())
    }

    fn read(&self, buffer: BufferId, offset: u64, len: u64) -> Result<Vec<u8>, BackendError> {
        let st = self.lock();
        let buf = st.buffer(buffer)?;
        let r = range(buffer, buf.len(), offset, len)?;
        Ok(buf[r].to_vec())
    }

    fn compile(&self, kernel: &Kernel) -> Result<ExecutableId, BackendError> {
        let exe = Exe::Kernel(compile_kernel(kernel)?);
        Ok(self.lock().add_executable(exe))
    }

    fn compile_routine(&self, routine: &Routine) -> Result<ExecutableId, BackendError> {
        let exe = Exe::Routine(CompiledRoutine::new(routine)?);
        Ok(self.lock().add_executable(exe))
    }

    fn execute(
        &self,
        exe: ExecutableId,
        inputs: &[BufferId],
        outputs: &[BufferId],
    ) -> Result<(), BackendError> {
        let mut guard = self.lock();
        let st = &mut *guard;
        let results = {
            let exe = st
                .executables
                .get(&exe.0)
                .ok_or_else(|| invalid(format!("unknown executable id {}", exe.0)))?;
            check_inputs(exe, inputs.len())?;
            let sizes = exe.output_bytes();
            if outputs.len() != sizes.len() {
                return Err(invalid(format!(
                    "executable writes {} output buffers, got {}",
                    sizes.len(),
                    outputs.len()
                )));
            }
            for (k, (&id, &want)) in outputs.iter().zip(&sizes).enumerate() {
                let have = st.buffer(id)?.len();
                if have < want {
                    return Err(invalid(format!(
                        "output {k} (buffer {}) holds {have} bytes, needs {want}",
                        id.0
                    )));
                }
            }
            let data: Vec<&[u8]> = inputs
                .iter()
                .map(|&id| st.buffer(id).map(Vec::as_slice))
                .collect::<Result<_, _>>()?;
            // Everything is computed before any output is written, so even
            // an output aliasing an input would read the old values.
            exe.run(&data)?
        };
        for (&id, data) in outputs.iter().zip(results) {
            st.buffer_mut(id)?[..data.len()].copy_from_slice(&data);
        }
        Ok(())
    }

    fn release(&self, exe: ExecutableId) {
        self.lock().executables.remove(&exe.0);
    }

    /// The kernel's IR text, or the routine's descriptor.
    fn source(&self, exe: ExecutableId) -> String {
        match self.lock().executables.get(&exe.0) {
            Some(Exe::Kernel(k)) => k.kernel.to_string(),
            Some(Exe::Routine(r)) => format!("{:?}", r.routine),
            None => String::new(),
        }
    }
}
