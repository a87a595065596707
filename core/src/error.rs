//! The one error type: a [`kind`](Error::kind) to match on, a message
//! written for the user (it names the file, op, shapes, dtypes or device
//! involved) and [`Context`] as data.
//!
//! # The convention (as JAX's)
//!
//! - Entry points that meet the outside world — `plugins.toml`, plugin
//!   libraries, devices, files, copies to and from the host, `try_jit` —
//!   return [`Result`] (or have a `try_` twin, e.g. [`Array::try_to_vec`]).
//! - Array operations compose in expressions (`&a + &b * 2.0`), so, as
//!   JAX raises and `Vec` indexing panics, they **raise**: a misuse or a
//!   backend failure inside an op unwinds with its typed `Error`. Many also
//!   have a `try_` twin.
//! - [`catch`] runs a block and returns whatever was raised inside it as a
//!   value: `catch(|| model(&x))` is `Err(e)` with `e.kind()` =
//!   [`ErrorKind::OutOfMemory`] when the device ran out of memory in the
//!   middle of the model, `ErrorKind::Shape` for a shape misuse, and so on.
//!   Nothing is printed for a caught error. A panic that is not an oxjax
//!   error (an assertion, your own `unwrap`) comes back as
//!   [`ErrorKind::Panic`] with its message. (`catch` needs unwinding: with
//!   `panic = "abort"` a raise ends the process.)
//!
//! [`Array::try_to_vec`]: crate::Array::try_to_vec

use oxjax_abi::{BackendError, DType, ErrorKind as AbiKind};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// What went wrong, to match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `plugins.toml` or `OXJAX_*` settings are unreadable, malformed, or
    /// name an unknown device.
    Config,
    /// A plugin library is missing, foreign, or of an incompatible ABI.
    Plugin,
    /// Shapes, ranks or axes that do not fit the op.
    Shape,
    /// A dtype the op does not take, or operands of dtypes that do not mix.
    DType,
    /// An index out of range.
    Index,
    /// Any other bad argument (a negative size, an unknown option, a
    /// tracer that escaped its transformation).
    Value,
    /// Not supported: by the device (an op, dtype or routine outside its
    /// capabilities) or by a transformation (`grad` of `while_loop`).
    Unsupported,
    /// The device ran out of memory.
    OutOfMemory,
    /// The device is unusable: no driver or adapter, or it was lost.
    Device,
    /// A kernel failed to compile (the message shows its IR).
    Compile,
    /// A kernel or routine failed while running.
    Execution,
    /// A plugin panicked, or a non-oxjax panic was [`catch`]ed.
    Panic,
    /// Reading or writing a file failed.
    Io,
}

/// Where an error happened, as data (the message says the same in words).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    /// The op or primitive, e.g. `matmul`, `reshape`, `dot_general`.
    pub op: Option<String>,
    /// The operands' shapes.
    pub shapes: Vec<Vec<usize>>,
    /// The operands' dtypes.
    pub dtypes: Vec<DType>,
    /// The device's name in `plugins.toml`.
    pub device: Option<String>,
}

/// An oxjax error: kind, message and context.
#[derive(Clone, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    context: Box<Context>,
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `kind` with a message naming what went wrong.
    /// Messages start with the op (`"matmul: ..."`, the crate's
    /// convention), which becomes the context's op.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        let message = message.into();
        let op = message.split_once(": ").map(|(p, _)| p).filter(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.[]/".contains(c))
        });
        Error {
            kind,
            context: Box::new(Context {
                op: op.map(str::to_string),
                ..Context::default()
            }),
            message,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, as `Display` prints it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The op, shapes, dtypes and device involved, where known.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Records the op, unless an inner layer already did.
    pub fn with_op(mut self, op: impl fmt::Display) -> Error {
        self.context.op.get_or_insert_with(|| op.to_string());
        self
    }

    /// Records the operands' shapes and dtypes, unless already recorded.
    pub fn with_operands<'a>(
        mut self,
        operands: impl IntoIterator<Item = (&'a [usize], DType)>,
    ) -> Error {
        if self.context.shapes.is_empty() && self.context.dtypes.is_empty() {
            for (s, d) in operands {
                self.context.shapes.push(s.to_vec());
                self.context.dtypes.push(d);
            }
        }
        self
    }

    /// Records the operands' shapes, unless already recorded.
    pub fn with_shapes(mut self, shapes: &[&[usize]]) -> Error {
        if self.context.shapes.is_empty() {
            self.context.shapes = shapes.iter().map(|s| s.to_vec()).collect();
        }
        self
    }

    /// Records the device, unless already recorded.
    pub fn with_device(mut self, device: &str) -> Error {
        self.context
            .device
            .get_or_insert_with(|| device.to_string());
        self
    }

    /// The same error with its message prefixed (`"{prefix}: {message}"`).
    pub fn prefixed(mut self, prefix: impl fmt::Display) -> Error {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)?;
        if *self.context != Context::default() {
            write!(f, " ({:?})", self.context)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<BackendError> for Error {
    fn from(e: BackendError) -> Self {
        let kind = match e.kind {
            AbiKind::UNSUPPORTED => ErrorKind::Unsupported,
            AbiKind::OUT_OF_MEMORY => ErrorKind::OutOfMemory,
            AbiKind::INVALID_ARGUMENT => ErrorKind::Value,
            AbiKind::COMPILE => ErrorKind::Compile,
            AbiKind::PANIC => ErrorKind::Panic,
            AbiKind::DEVICE => ErrorKind::Device,
            _ => ErrorKind::Execution,
        };
        Error::new(kind, format!("backend {e}"))
    }
}

/// `Err` of an error of `kind`.
pub fn err<T>(kind: ErrorKind, msg: impl Into<String>) -> Result<T> {
    Err(Error::new(kind, msg))
}

thread_local! {
    /// The error this thread is raising, for [`catch`] to return typed.
    static RAISED: RefCell<Option<Error>> = const { RefCell::new(None) };
    /// How many [`catch`] blocks this thread is inside.
    static CATCHING: Cell<usize> = const { Cell::new(0) };
}

/// Raises `e`: unwinds with it (see the module's convention). Uncaught, it
/// panics with the message, as before.
pub fn raise(e: Error) -> ! {
    let msg = e.message.clone();
    RAISED.with(|r| *r.borrow_mut() = Some(e));
    panic!("{msg}")
}

/// Raises a new error of `kind` (see [`raise`]).
pub fn fail(kind: ErrorKind, msg: impl Into<String>) -> ! {
    raise(Error::new(kind, msg))
}

/// Runs `f` and returns what it raised as a value (see the module's
/// convention): oxjax errors with their kind and context, any other panic
/// as [`ErrorKind::Panic`].
///
/// ```
/// use oxjax_core::{Array, ErrorKind, catch};
/// let a = Array::zeros(&[2, 3], oxjax_core::DType::F32);
/// let e = catch(|| a.matmul(&a)).unwrap_err();
/// assert_eq!(e.kind(), ErrorKind::Shape);
/// assert_eq!(e.context().shapes, vec![vec![2, 3], vec![2, 3]]);
/// assert!(catch(|| a.sum(0, false)).is_ok());
/// ```
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T> {
    quiet_hook();
    RAISED.with(|r| r.borrow_mut().take());
    CATCHING.with(|c| c.set(c.get() + 1));
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    out.map_err(|payload| {
        RAISED.with(|r| r.borrow_mut().take()).unwrap_or_else(|| {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".into());
            Error::new(ErrorKind::Panic, msg)
        })
    })
}

/// Wraps the process's panic hook (once, on the first [`catch`]) so that a
/// panic inside a `catch` block prints nothing: it is returned instead.
/// Outside one, the previous hook runs as before.
fn quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.with(|c| c.get()) == 0 {
                previous(info);
            }
        }));
    });
}
