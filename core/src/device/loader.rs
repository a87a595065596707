//! Loading a backend plugin library.
//!
//! Two steps, the PJRT lesson: first a plain `dlsym` of the version symbol
//! (so a foreign library or another major version is refused in one line
//! before any layout is trusted), then abi_stable's layout check of the root
//! module. Libraries are never unloaded.

use crate::error::{Error, ErrorKind, Result};
use oxjax_abi::__private::{LibraryError, lib_header_from_path};
use oxjax_abi::{
    ABI_VERSION, AbiVersion, BackendObj, OLDEST_LOADABLE, PluginModuleRef, VERSION_SYMBOL,
};
use std::path::Path;

const BUILD_HINT: &str = "build the plugins with `cargo xtask build-plugins`";

/// Why a plugin is unavailable: `started` tells a backend that refused to
/// start (loaded fine) from a library that could not be loaded.
pub(crate) struct LoadError {
    pub started: bool,
    pub error: Error,
}

/// Loads the library at `path` and creates a backend with `options` (TOML).
pub(crate) fn load(path: &Path, options: &str) -> std::result::Result<BackendObj, LoadError> {
    let module = open(path).map_err(|error| LoadError {
        started: false,
        error,
    })?;
    (module.create())(options.into())
        .into_result()
        .map_err(|e| LoadError {
            started: true,
            error: Error::new(
                ErrorKind::Plugin,
                format!("plugin {} failed to start: {e}", path.display()),
            ),
        })
}

/// The plugin's oxjax ABI version, if `path` is a loadable oxjax plugin.
pub(crate) fn abi_version(path: &Path) -> Option<AbiVersion> {
    path.is_file().then(|| read_version(path).ok()).flatten()
}

/// Loads the library and checks its versions and layout.
fn open(path: &Path) -> Result<PluginModuleRef> {
    let shown = path.display();
    if path.is_dir() {
        return Err(Error::new(
            ErrorKind::Plugin,
            format!(
                "plugin path {shown} is a directory; `path` must name the library file \
             (without extension, the platform's naming is added)"
            ),
        ));
    }
    if !path.is_file() {
        return Err(Error::new(
            ErrorKind::Plugin,
            format!("plugin library {shown} not found; {BUILD_HINT}"),
        ));
    }
    let found = read_version(path)?;
    check_version(found).map_err(|why| {
        Error::new(
            ErrorKind::Plugin,
            format!(
                "plugin {shown} was built for oxjax plugin ABI {found}, but {why} ({BUILD_HINT})"
            ),
        )
    })?;
    lib_header_from_path(path)
        .and_then(|h| h.init_root_module::<PluginModuleRef>())
        .map_err(|e| layout_error(path, found, e))
}

/// Whether a plugin of ABI `found` may load in this host: the same major,
/// and a minor no older than [`OLDEST_LOADABLE`] (a minor that only
/// appended dtypes leaves older plugins working: they never declare them;
/// one that appended a trait method does not: see `OLDEST_LOADABLE`).
fn check_version(found: AbiVersion) -> std::result::Result<(), String> {
    if found.major != ABI_VERSION.major {
        return Err(format!(
            "this oxjax uses ABI {ABI_VERSION}; rebuild the plugin against oxjax-abi {}",
            ABI_VERSION.major
        ));
    }
    if found.minor < OLDEST_LOADABLE.minor {
        return Err(format!(
            "this oxjax uses ABI {ABI_VERSION} and loads plugins of ABI {OLDEST_LOADABLE} or newer; \
             rebuild the plugin"
        ));
    }
    Ok(())
}

/// Reads the plugin's own ABI version through a plain symbol lookup.
fn read_version(path: &Path) -> Result<AbiVersion> {
    let shown = path.display();
    // SAFETY: loading runs the library's initialisers; a plugin is trusted
    // code the user configured. The symbol's type is fixed by the ABI.
    unsafe {
        let lib = libloading::Library::new(path).map_err(|e| {
            // libloading's Display says only "dlopen failed"; the dynamic
            // loader's own text (wrong architecture, a missing dependency)
            // is its source.
            let why = std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string());
            Error::new(
                ErrorKind::Plugin,
                format!("cannot load plugin {shown}: {why}"),
            )
        })?;
        let version = match lib.get::<extern "C" fn() -> u64>(VERSION_SYMBOL.as_bytes()) {
            Ok(f) => AbiVersion::unpack(f()),
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Plugin,
                    format!(
                        "{shown} is not an oxjax plugin: it exports no `{VERSION_SYMBOL}` symbol \
                     (a plugin exports its backend with `oxjax_abi::export_backend!`)"
                    ),
                ));
            }
        };
        // Never unload: backends hand out function pointers and threads.
        std::mem::forget(lib);
        Ok(version)
    }
}

/// Summarises abi_stable's error (a layout mismatch is a ~600-line dump) to
/// a few lines, with our own versions.
fn layout_error(path: &Path, found: AbiVersion, e: LibraryError) -> Error {
    let full = e.to_string();
    let lines: Vec<&str> = full
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let start = lines.iter().position(|l| l.contains("Error:")).unwrap_or(0);
    let summary: Vec<&str> = lines.iter().skip(start).take(6).copied().collect();
    let what = match e {
        LibraryError::AbiInstability(_) => "its interface layout differs from this oxjax's",
        LibraryError::IncompatibleVersionNumber { .. } => {
            "its oxjax-abi package version is incompatible"
        }
        _ => "its root module could not be loaded",
    };
    Error::new(
        ErrorKind::Plugin,
        format!(
            "plugin {} declares ABI {found} (this oxjax uses ABI {ABI_VERSION}) but {what}; \
         rebuild it against this oxjax-abi ({BUILD_HINT}).\n  {}",
            path.display(),
            summary.join("\n  ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ABI 1.4 appended a trait method, which abi_stable's layout check
    /// refuses in an older plugin: 1.3 and older are refused by version,
    /// with a rebuild hint; a newer minor loads; another major is refused.
    #[test]
    fn version_window() {
        let v = |major, minor| AbiVersion { major, minor };
        assert!(check_version(ABI_VERSION).is_ok());
        assert!(check_version(v(1, 9)).is_ok(), "a newer plugin loads");
        assert!(check_version(v(1, 3)).unwrap_err().contains("1.4 or newer"));
        assert!(check_version(v(1, 2)).is_err());
        assert!(check_version(v(2, 3)).is_err());
    }
}
