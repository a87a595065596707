//! The one error type of the library.

use oxjax_abi::BackendError;
use std::fmt;

/// What went wrong. Every variant carries a message written for the user:
/// it names the file, op, shapes, dtypes or device involved.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// `plugins.toml` is unreadable or malformed, or names an unknown device.
    Config(String),
    /// A plugin library is missing, foreign, or of an incompatible ABI.
    Plugin(String),
    /// A backend call failed (including a panic inside the plugin).
    Backend(BackendError),
    /// An op was misused: shapes, dtypes, axes or devices that do not fit.
    Op(String),
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(m) | Error::Plugin(m) | Error::Op(m) => f.write_str(m),
            Error::Backend(e) => write!(f, "backend {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<BackendError> for Error {
    fn from(e: BackendError) -> Self {
        Error::Backend(e)
    }
}

/// Shorthand for an [`Error::Op`].
pub fn op_err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::Op(msg.into()))
}
