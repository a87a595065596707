//! The backend interface: what a plugin implements and what the host calls.
//!
//! A backend author implements the plain-Rust trait [`Backend`] and exports
//! it with [`crate::export_backend!`]. The macro wraps it in [`Guarded`],
//! which implements the FFI-safe trait object [`PluginBackend`] and turns
//! every panic into a [`BackendError`] of kind [`ErrorKind::PANIC`], so a
//! faulty plugin can fail a call but never take the host down.

use crate::{DType, Kernel, Op, Routine, RoutineKind};
use abi_stable::StableAbi;
use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, RResult, RSlice, RSliceMut, RString, RVec};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A device buffer handle, chosen by the backend. Released with `free`.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct BufferId(pub u64);

/// A compiled kernel or routine handle, chosen by the backend. Released with `release`.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ExecutableId(pub u64);

/// One launch of a loop body: an executable with its buffers, as
/// [`Backend::execute`] takes them. (ABI 1.4)
#[repr(C)]
#[derive(StableAbi, Clone, PartialEq, Eq, Debug)]
pub struct Launch {
    pub exe: ExecutableId,
    pub inputs: RVec<BufferId>,
    pub outputs: RVec<BufferId>,
}

/// What went wrong, as an integer newtype (appendable).
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorKind(pub u8);

impl ErrorKind {
    /// The op, dtype or routine is not in the backend's capabilities.
    pub const UNSUPPORTED: ErrorKind = ErrorKind(0);
    pub const OUT_OF_MEMORY: ErrorKind = ErrorKind(1);
    /// A bad handle, size or option.
    pub const INVALID_ARGUMENT: ErrorKind = ErrorKind(2);
    /// Code generation or compilation failed (the message shows the IR).
    pub const COMPILE: ErrorKind = ErrorKind(3);
    pub const EXECUTION: ErrorKind = ErrorKind(4);
    /// The plugin panicked; the message carries the panic's text.
    pub const PANIC: ErrorKind = ErrorKind(5);
    /// No usable device (driver or adapter missing).
    pub const DEVICE: ErrorKind = ErrorKind(6);

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::UNSUPPORTED => "unsupported",
            ErrorKind::OUT_OF_MEMORY => "out of memory",
            ErrorKind::INVALID_ARGUMENT => "invalid argument",
            ErrorKind::COMPILE => "compile error",
            ErrorKind::EXECUTION => "execution error",
            ErrorKind::PANIC => "panic",
            ErrorKind::DEVICE => "device error",
            _ => "error",
        }
    }
}

impl fmt::Debug for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error returned across the boundary.
#[repr(C)]
#[derive(StableAbi, Clone, PartialEq, Eq, Debug)]
pub struct BackendError {
    pub kind: ErrorKind,
    pub message: RString,
}

impl BackendError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        BackendError {
            kind,
            message: RString::from(message.into()),
        }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for BackendError {}

/// Semantic deviations a backend declares, as bit flags. Conformance widens
/// its expectations for exactly these, and says so in its report.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Semantics(pub u32);

impl Semantics {
    /// Arithmetic on NaN/±Inf may not follow IEEE 754 (e.g. WGSL).
    pub const NONFINITE_UNDEFINED: u32 = 1;
    /// Subnormal floats may be flushed to zero.
    pub const SUBNORMALS_FLUSHED: u32 = 2;

    pub fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }
}

/// What a backend can do. The core never sends an op, dtype or routine
/// outside these lists.
#[repr(C)]
#[derive(StableAbi, Clone, PartialEq, Eq, Debug)]
pub struct Capabilities {
    pub dtypes: RVec<DType>,
    pub ops: RVec<Op>,
    pub routines: RVec<RoutineKind>,
    /// Most input buffers one kernel may bind.
    pub max_inputs: u32,
    pub semantics: Semantics,
}

impl Capabilities {
    /// Everything this ABI version defines: every op, every dtype, the given routines.
    pub fn everything(routines: &[RoutineKind]) -> Self {
        Capabilities {
            dtypes: DType::ALL.to_vec().into(),
            ops: crate::OPS.iter().map(|i| i.op).collect(),
            routines: routines.to_vec().into(),
            max_inputs: u32::MAX,
            semantics: Semantics::default(),
        }
    }

    pub fn supports_dtype(&self, d: DType) -> bool {
        self.dtypes.contains(&d)
    }

    pub fn supports_op(&self, op: Op) -> bool {
        self.ops.contains(&op)
    }

    pub fn supports_routine(&self, r: RoutineKind) -> bool {
        self.routines.contains(&r)
    }

    /// Why this kernel cannot run here, if it cannot: the first op, dtype or
    /// input count outside the capabilities.
    pub fn check(&self, kernel: &Kernel) -> Result<(), String> {
        if kernel.inputs.len() > self.max_inputs as usize {
            return Err(format!(
                "kernel binds {} inputs, the backend allows {}",
                kernel.inputs.len(),
                self.max_inputs
            ));
        }
        for n in kernel.nodes.iter() {
            if !self.supports_dtype(n.dtype) {
                return Err(format!("dtype {} is not supported", n.dtype));
            }
            if !self.supports_op(n.op) {
                return Err(format!("op {} is not supported", n.op));
            }
        }
        Ok(())
    }
}

/// Identity and abilities of a backend instance.
#[repr(C)]
#[derive(StableAbi, Clone, PartialEq, Eq, Debug)]
pub struct BackendInfo {
    /// The backend's name (`reference`, `wasm`, ...).
    pub name: RString,
    /// The plugin's own version.
    pub version: RString,
    /// The device it drives, in words (`llvmpipe (LLVM 15)`, `4 threads`...).
    pub device: RString,
    pub caps: Capabilities,
}

/// The trait a backend author implements, with ordinary Rust types.
///
/// Contract: calls may come from several threads (hence `Send + Sync`);
/// `execute` calls take effect in the order they are made and may run
/// asynchronously; `read` and `synchronize` wait for all earlier work;
/// `write` copies the bytes before it returns. Buffers are byte arrays;
/// elements are little-endian, bool is one byte (0 or 1).
pub trait Backend: Send + Sync + 'static {
    fn info(&self) -> BackendInfo;
    /// A zero-initialised buffer of `bytes` bytes (0 is allowed).
    fn alloc(&self, bytes: u64) -> Result<BufferId, BackendError>;
    fn free(&self, buffer: BufferId);
    fn write(&self, buffer: BufferId, offset: u64, data: &[u8]) -> Result<(), BackendError>;
    fn read(&self, buffer: BufferId, offset: u64, len: u64) -> Result<Vec<u8>, BackendError>;
    /// Reads `dst.len()` bytes from `offset` into the caller's memory, so a
    /// large readback lands in its final place in one copy. The default
    /// goes through [`Backend::read`]; backends with host-visible memory
    /// override it. (ABI 1.1)
    fn read_into(&self, buffer: BufferId, offset: u64, dst: &mut [u8]) -> Result<(), BackendError> {
        copy_read(&self.read(buffer, offset, dst.len() as u64)?, dst)
    }
    /// Compiles a validated kernel whose ops and dtypes are in the capabilities.
    fn compile(&self, kernel: &Kernel) -> Result<ExecutableId, BackendError>;
    /// Compiles a routine listed in the capabilities.
    fn compile_routine(&self, routine: &Routine) -> Result<ExecutableId, BackendError> {
        Err(BackendError::new(
            ErrorKind::UNSUPPORTED,
            format!("routine {} is not implemented", routine.kind.name()),
        ))
    }
    /// Runs an executable: input buffers in the kernel's input order, one
    /// output buffer per output. Outputs never alias inputs.
    fn execute(
        &self,
        exe: ExecutableId,
        inputs: &[BufferId],
        outputs: &[BufferId],
    ) -> Result<(), BackendError>;
    /// Makes `count` launches going round `body`: launch `j` is
    /// `body[j % body.len()]`, with the effect of that many `execute` calls
    /// in order (an empty body with `count > 0` is an error). A loop lists
    /// two iterations, the second with the carried buffers swapped, so the
    /// backend needs no notion of a carry. The default calls `execute`;
    /// a backend overrides it to look up, check and bind each launch once
    /// and run the iterations in its own loop. (ABI 1.4)
    fn execute_loop(&self, body: &[Launch], count: u64) -> Result<(), BackendError> {
        launch_by_launch(body, count, |l| self.execute(l.exe, &l.inputs, &l.outputs))
    }
    /// Waits until all submitted work has finished.
    fn synchronize(&self) -> Result<(), BackendError> {
        Ok(())
    }
    fn release(&self, exe: ExecutableId);
    /// The generated code of an executable (WAT, WGSL, ...) for `OXJAX_DEBUG`;
    /// empty if there is none.
    fn source(&self, _exe: ExecutableId) -> String {
        String::new()
    }
}

/// The FFI-safe form of [`Backend`]. Methods are only ever appended (after
/// the last prefix field) in minor versions.
#[sabi_trait]
pub trait PluginBackend: Send + Sync {
    fn info(&self) -> RResult<BackendInfo, BackendError>;
    fn alloc(&self, bytes: u64) -> RResult<BufferId, BackendError>;
    fn free(&self, buffer: BufferId) -> RResult<(), BackendError>;
    fn write(
        &self,
        buffer: BufferId,
        offset: u64,
        data: RSlice<'_, u8>,
    ) -> RResult<(), BackendError>;
    fn read(&self, buffer: BufferId, offset: u64, len: u64) -> RResult<RVec<u8>, BackendError>;
    fn compile(&self, kernel: &Kernel) -> RResult<ExecutableId, BackendError>;
    fn compile_routine(&self, routine: &Routine) -> RResult<ExecutableId, BackendError>;
    fn execute(
        &self,
        exe: ExecutableId,
        inputs: RSlice<'_, BufferId>,
        outputs: RSlice<'_, BufferId>,
    ) -> RResult<(), BackendError>;
    fn synchronize(&self) -> RResult<(), BackendError>;
    fn release(&self, exe: ExecutableId) -> RResult<(), BackendError>;
    #[sabi(last_prefix_field)]
    fn source(&self, exe: ExecutableId) -> RResult<RString, BackendError>;
    /// Appended in ABI 1.1. A vtable without it (a plugin built against
    /// 1.0) would get this default, a `read` and a copy; the loader refuses
    /// plugins older than the host today, but the default keeps such a
    /// vtable sound should that rule relax.
    fn read_into(
        &self,
        buffer: BufferId,
        offset: u64,
        mut dst: RSliceMut<'_, u8>,
    ) -> RResult<(), BackendError> {
        self.read(buffer, offset, dst.len() as u64)
            .and_then(|bytes| copy_read(&bytes, dst.as_mut_slice()).into())
    }
    /// Appended in ABI 1.4; see [`Backend::execute_loop`]. The default
    /// makes the launches with `execute` (like `read_into`'s, it would
    /// serve a vtable without the method, which the loader refuses today).
    fn execute_loop(&self, body: RSlice<'_, Launch>, count: u64) -> RResult<(), BackendError> {
        launch_by_launch(body.as_slice(), count, |l| {
            self.execute(l.exe, l.inputs.as_rslice(), l.outputs.as_rslice())
                .into_result()
        })
        .into()
    }
}

/// `execute_loop` made of `execute` calls: `count` launches going round
/// `body`. The trait's default, and a backend's fallback for a body its own
/// loop does not take (a routine, say).
pub fn launch_by_launch(
    body: &[Launch],
    count: u64,
    mut execute: impl FnMut(&Launch) -> Result<(), BackendError>,
) -> Result<(), BackendError> {
    if body.is_empty() && count > 0 {
        return Err(BackendError::new(
            ErrorKind::INVALID_ARGUMENT,
            format!("execute_loop: {count} launches of an empty body"),
        ));
    }
    body.iter()
        .cycle()
        .take(count.try_into().unwrap_or(usize::MAX))
        .try_for_each(&mut execute)
}

/// The default `read_into`: the bytes a `read` returned, into `dst`.
fn copy_read(bytes: &[u8], dst: &mut [u8]) -> Result<(), BackendError> {
    if bytes.len() != dst.len() {
        return Err(BackendError::new(
            ErrorKind::DEVICE,
            format!("read returned {} bytes, {} asked", bytes.len(), dst.len()),
        ));
    }
    dst.copy_from_slice(bytes);
    Ok(())
}

/// A boxed backend trait object as it crosses the boundary.
pub type BackendObj = PluginBackend_TO<'static, RBox<()>>;

/// Adapts a [`Backend`] to [`PluginBackend`], catching panics.
pub struct Guarded<B>(pub B);

/// Runs `f`, turning a panic into a [`ErrorKind::PANIC`] error.
pub fn guard<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, BackendError>,
) -> RResult<T, BackendError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.into(),
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".into());
            RResult::RErr(BackendError::new(
                ErrorKind::PANIC,
                format!("backend panicked in {what}: {text}"),
            ))
        }
    }
}

impl<B: Backend> PluginBackend for Guarded<B> {
    fn info(&self) -> RResult<BackendInfo, BackendError> {
        guard("info", || Ok(self.0.info()))
    }
    fn alloc(&self, bytes: u64) -> RResult<BufferId, BackendError> {
        guard("alloc", || self.0.alloc(bytes))
    }
    fn free(&self, buffer: BufferId) -> RResult<(), BackendError> {
        guard("free", || {
            self.0.free(buffer);
            Ok(())
        })
    }
    fn write(
        &self,
        buffer: BufferId,
        offset: u64,
        data: RSlice<'_, u8>,
    ) -> RResult<(), BackendError> {
        guard("write", || self.0.write(buffer, offset, data.as_slice()))
    }
    fn read(&self, buffer: BufferId, offset: u64, len: u64) -> RResult<RVec<u8>, BackendError> {
        guard("read", || self.0.read(buffer, offset, len).map(RVec::from))
    }
    fn compile(&self, kernel: &Kernel) -> RResult<ExecutableId, BackendError> {
        guard("compile", || self.0.compile(kernel))
    }
    fn compile_routine(&self, routine: &Routine) -> RResult<ExecutableId, BackendError> {
        guard("compile_routine", || self.0.compile_routine(routine))
    }
    fn execute(
        &self,
        exe: ExecutableId,
        inputs: RSlice<'_, BufferId>,
        outputs: RSlice<'_, BufferId>,
    ) -> RResult<(), BackendError> {
        guard("execute", || {
            self.0.execute(exe, inputs.as_slice(), outputs.as_slice())
        })
    }
    fn synchronize(&self) -> RResult<(), BackendError> {
        guard("synchronize", || self.0.synchronize())
    }
    fn execute_loop(&self, body: RSlice<'_, Launch>, count: u64) -> RResult<(), BackendError> {
        guard("execute_loop", || {
            self.0.execute_loop(body.as_slice(), count)
        })
    }
    fn release(&self, exe: ExecutableId) -> RResult<(), BackendError> {
        guard("release", || {
            self.0.release(exe);
            Ok(())
        })
    }
    fn source(&self, exe: ExecutableId) -> RResult<RString, BackendError> {
        guard("source", || Ok(RString::from(self.0.source(exe))))
    }
    fn read_into(
        &self,
        buffer: BufferId,
        offset: u64,
        mut dst: RSliceMut<'_, u8>,
    ) -> RResult<(), BackendError> {
        guard("read_into", || {
            self.0.read_into(buffer, offset, dst.as_mut_slice())
        })
    }
}

/// Wraps a backend into the boxed trait object the host receives. Used by
/// [`crate::export_backend!`] and by hosts that link a backend statically.
pub fn into_object<B: Backend>(backend: B) -> BackendObj {
    PluginBackend_TO::from_value(Guarded(backend), abi_stable::sabi_trait::TD_Opaque)
}
