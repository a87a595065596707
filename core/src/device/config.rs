//! `plugins.toml`: which backend plugins to load, with what options, and
//! which device is the default.
//!
//! ```toml
//! default = "reference"          # or a preference list: ["webgpu", "wasm"]
//!
//! [plugins.reference]
//! path = "target/plugins/oxjax_backend_reference"  # relative to this file
//! options = { }                                    # passed to the plugin as TOML
//! ```
//!
//! A `path` without a library extension gets the platform's naming
//! (`liboxjax_backend_x.so`, `liboxjax_backend_x.dylib`, `oxjax_backend_x.dll`).

use crate::error::{Error, ErrorKind, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct File {
    default: Option<DefaultSpec>,
    #[serde(default)]
    plugins: BTreeMap<String, PluginEntry>,
}

/// `default = "wasm"` or a preference list `default = ["webgpu", "wasm"]`.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum DefaultSpec {
    One(String),
    List(Vec<String>),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PluginEntry {
    path: String,
    /// Milliseconds a call into the plugin may take before it is an error.
    watchdog_ms: Option<u64>,
    #[serde(default)]
    options: toml::Table,
}

/// One plugin to load.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PluginSpec {
    pub name: String,
    /// The library file, resolved and with the platform's naming applied.
    pub path: PathBuf,
    /// The `options` table, re-serialised as a TOML document.
    pub options: String,
    /// The deadline on each call into the plugin (`watchdog_ms`), if any.
    pub watchdog: Option<std::time::Duration>,
}

/// A parsed `plugins.toml`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Config {
    pub file: PathBuf,
    /// The default device, or a preference list: the first that starts is
    /// the default. Empty: the first plugin (or `embedded`).
    pub default: Vec<String>,
    pub plugins: Vec<PluginSpec>,
}

/// The reserved name of the built-in reference backend.
pub(crate) const EMBEDDED: &str = "embedded";

impl Config {
    pub fn read(file: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot read {}: {e}", file.display()),
            )
        })?;
        Config::parse(&text, file)
    }

    /// Parses `text` as if read from `file` (paths resolve against its folder).
    pub fn parse(text: &str, file: &Path) -> Result<Config> {
        let parsed: File = toml::from_str(text).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("{}: {}", file.display(), e.to_string().trim_end()),
            )
        })?;
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut plugins = Vec::new();
        for (name, entry) in parsed.plugins {
            if name == EMBEDDED {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{}: plugin name '{EMBEDDED}' is reserved for the built-in reference backend",
                        file.display()
                    ),
                ));
            }
            let options = toml::to_string(&entry.options).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("{}: plugin '{name}': options: {e}", file.display()),
                )
            })?;
            plugins.push(PluginSpec {
                path: library_path(&dir.join(&entry.path)),
                name,
                options,
                watchdog: entry.watchdog_ms.map(std::time::Duration::from_millis),
            });
        }
        let default = match parsed.default {
            None => Vec::new(),
            Some(DefaultSpec::One(d)) => vec![d],
            Some(DefaultSpec::List(l)) if l.is_empty() => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{}: default = [] names no device; give one name or a preference list",
                        file.display()
                    ),
                ));
            }
            Some(DefaultSpec::List(l)) => l,
        };
        for d in &default {
            if d != EMBEDDED && !plugins.iter().any(|p| &p.name == d) {
                let known: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{}: default = \"{d}\" names no plugin; known: {EMBEDDED}, {}",
                        file.display(),
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(Config {
            file: file.to_path_buf(),
            default,
            plugins,
        })
    }
}

/// Applies the platform's library naming to a path given without extension
/// (a file name with a dot, such as `libz.so.1` or `x.so`, is kept as given).
pub(crate) fn library_path(path: &Path) -> PathBuf {
    let stem = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stem.contains('.') || stem.is_empty() {
        return path.to_path_buf();
    }
    let file = format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    path.with_file_name(file)
}

/// The nearest `plugins.toml` from `start` upward.
pub(crate) fn find_upward(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join("plugins.toml"))
        .find(|p| p.is_file())
}
