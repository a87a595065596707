//! # A template oxjax backend
//!
//! The smallest complete backend plugin: buffers are host `Vec<u8>`s and
//! `compile` keeps the kernel; `execute` interprets it one output element at
//! a time ([`interp`]). Replace the interpreter with a code generator and
//! keep the rest.
//!
//! The contract (see `docs/backend-authors.md` and the `oxjax-abi` docs):
//! - implement [`Backend`]; export it with [`oxjax_abi::export_backend!`];
//! - declare what you support in [`Capabilities`]: the host never sends an
//!   op or dtype outside them, and conformance reports the rest as
//!   unsupported;
//! - honour the semantics written on each `Op` (integer division by zero,
//!   shifts, saturating casts, NaN and signed-zero rules), or declare the
//!   deviation in `Capabilities::semantics`;
//! - certify with `cargo xtask conformance --plugin <this library>`.

pub mod interp;

use oxjax_abi::{
    Backend, BackendError, BackendInfo, BufferId, Capabilities, DType, ErrorKind, ExecutableId,
    Kernel,
};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The backend: every buffer and kernel behind one lock; calls complete
/// before they return (so `synchronize` has nothing to wait for).
pub struct TemplateBackend {
    state: Mutex<State>,
    /// The most input buffers one kernel may bind (`max_inputs` option).
    max_inputs: u32,
}

#[derive(Default)]
struct State {
    buffers: HashMap<u64, Vec<u8>>,
    kernels: HashMap<u64, interp::Program>,
    last_id: u64,
}

impl State {
    fn id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }
}

fn invalid(message: String) -> BackendError {
    BackendError::new(ErrorKind::INVALID_ARGUMENT, message)
}

/// The plugin constructor: `options` is the `options` table of the
/// plugin's `plugins.toml` entry, as a TOML document (empty when none).
/// The template knows one option, `max_inputs = N` (default: no limit): the most
/// input buffers per kernel it declares, so a backend with few binding
/// slots can be imitated. Unknown options are refused by name.
pub fn new(options: &str) -> Result<TemplateBackend, BackendError> {
    let mut max_inputs = u32::MAX;
    for line in options.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        match key.trim() {
            "max_inputs" => {
                max_inputs = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| {
                        invalid(format!(
                            "option max_inputs wants a positive integer, got {:?}",
                            value.trim()
                        ))
                    })?
            }
            other => {
                return Err(invalid(format!(
                    "the template backend has no option {other:?} (it knows max_inputs)"
                )));
            }
        }
    }
    Ok(TemplateBackend {
        state: Mutex::default(),
        max_inputs,
    })
}

impl TemplateBackend {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Backend for TemplateBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "template".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            device: "host CPU (template interpreter)".into(),
            // Every op, the dtypes `interp.rs` implements (not the 8- and
            // 16-bit storage types bf16, i8, u8 of ABI 1.3), no routines
            // (the host runs sort, scans, linear algebra itself), standard
            // semantics.
            caps: Capabilities {
                max_inputs: self.max_inputs,
                dtypes: vec![
                    DType::BOOL,
                    DType::I32,
                    DType::U32,
                    DType::F16,
                    DType::F32,
                    DType::F64,
                ]
                .into(),
                ..Capabilities::everything(&[])
            },
        }
    }

    fn alloc(&self, bytes: u64) -> Result<BufferId, BackendError> {
        let n = usize::try_from(bytes)
            .map_err(|_| BackendError::new(ErrorKind::OUT_OF_MEMORY, format!("{bytes} bytes")))?;
        let mut st = self.lock();
        let id = st.id();
        st.buffers.insert(id, vec![0; n]);
        Ok(BufferId(id))
    }

    fn free(&self, buffer: BufferId) {
        self.lock().buffers.remove(&buffer.0);
    }

    fn write(&self, buffer: BufferId, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        let mut st = self.lock();
        let buf = st
            .buffers
            .get_mut(&buffer.0)
            .ok_or_else(|| invalid(format!("unknown buffer {}", buffer.0)))?;
        let start = offset as usize;
        buf.get_mut(start..start + data.len())
            .ok_or_else(|| invalid(format!("write past the end of buffer {}", buffer.0)))?
            .copy_from_slice(data);
        Ok(())
    }

    fn read(&self, buffer: BufferId, offset: u64, len: u64) -> Result<Vec<u8>, BackendError> {
        let st = self.lock();
        let buf = st
            .buffers
            .get(&buffer.0)
            .ok_or_else(|| invalid(format!("unknown buffer {}", buffer.0)))?;
        let start = offset as usize;
        buf.get(start..start + len as usize)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| invalid(format!("read past the end of buffer {}", buffer.0)))
    }

    fn compile(&self, kernel: &Kernel) -> Result<ExecutableId, BackendError> {
        // The host validates kernels before sending them; checking again
        // costs little and turns a host bug into a clear error.
        kernel
            .validate()
            .map_err(|e| BackendError::new(ErrorKind::COMPILE, format!("{e}\n{kernel}")))?;
        let program = interp::Program::new(kernel);
        let mut st = self.lock();
        let id = st.id();
        st.kernels.insert(id, program);
        Ok(ExecutableId(id))
    }

    fn execute(
        &self,
        exe: ExecutableId,
        inputs: &[BufferId],
        outputs: &[BufferId],
    ) -> Result<(), BackendError> {
        let mut st = self.lock();
        let results = {
            let program = st
                .kernels
                .get(&exe.0)
                .ok_or_else(|| invalid(format!("unknown executable {}", exe.0)))?;
            let data = inputs
                .iter()
                .map(|b| {
                    st.buffers
                        .get(&b.0)
                        .map(Vec::as_slice)
                        .ok_or_else(|| invalid(format!("unknown buffer {}", b.0)))
                })
                .collect::<Result<Vec<&[u8]>, _>>()?;
            program.run(&data)
        };
        for (b, bytes) in outputs.iter().zip(results) {
            let buf = st
                .buffers
                .get_mut(&b.0)
                .ok_or_else(|| invalid(format!("unknown buffer {}", b.0)))?;
            buf.get_mut(..bytes.len())
                .ok_or_else(|| invalid(format!("output buffer {} is too small", b.0)))?
                .copy_from_slice(&bytes);
        }
        Ok(())
    }

    fn release(&self, exe: ExecutableId) {
        self.lock().kernels.remove(&exe.0);
    }
}

oxjax_abi::export_backend!(new);
