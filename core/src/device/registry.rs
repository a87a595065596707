//! Finding devices.
//!
//! The process-wide registry is built on first use from, in order:
//! `OXJAX_PLUGINS=<file>`; else the nearest `plugins.toml` from the current
//! directory upward; else nothing but the embedded reference backend, so a
//! program always runs (said once on stderr). The embedded backend is always
//! present as the device `embedded`. `OXJAX_DEVICE=<name>` overrides the
//! file's `default`.
//!
//! Devices are **lazy and isolated**: a plugin is loaded and started when its
//! device is first used or listed, each on its own. One that fails keeps its
//! error (what failed, the file, the fix), is reported by
//! [`device_report`], and leaves every other device working. The default
//! falls back to the next working device only when `default` is a
//! preference list (`default = ["webgpu", "wasm"]`).

use super::Device;
use super::config::{Config, EMBEDDED, PluginSpec, find_upward};
use super::loader;
use crate::error::{Error, ErrorKind, Result};
use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One configured device, started on first use.
struct Slot {
    name: String,
    /// The plugin to load; `None` for the embedded device.
    spec: Option<PluginSpec>,
    state: OnceLock<std::result::Result<Device, Failure>>,
}

/// Why a device is unavailable.
#[derive(Clone, Debug)]
struct Failure {
    stage: Status,
    error: Error,
}

/// A set of named devices and a default.
pub struct Registry {
    slots: Vec<Slot>,
    /// The default's preference list (one name unless the user gave a list).
    default: Vec<String>,
    /// Where the default list came from, for the "why" of [`Registry::default_choice`].
    default_origin: String,
    /// Where the configuration came from (for messages).
    source: String,
    chosen: OnceLock<Result<(usize, String)>>,
}

impl Registry {
    /// Only the embedded reference backend.
    pub fn embedded() -> Registry {
        Registry {
            slots: vec![embedded_slot()],
            default: vec![EMBEDDED.into()],
            default_origin: "no plugins.toml found".into(),
            source: "built-in defaults (no plugins.toml found)".into(),
            chosen: OnceLock::new(),
        }
    }

    /// The devices a `plugins.toml` names; none is loaded yet.
    pub fn from_file(file: &Path) -> Result<Registry> {
        Ok(Registry::from_config(Config::read(file)?))
    }

    /// Like [`Registry::from_file`], for a document held in memory whose
    /// relative paths resolve against `file`'s folder.
    pub fn from_toml(text: &str, file: &Path) -> Result<Registry> {
        Ok(Registry::from_config(Config::parse(text, file)?))
    }

    fn from_config(config: Config) -> Registry {
        let mut slots = vec![embedded_slot()];
        slots.extend(config.plugins.into_iter().map(|spec| Slot {
            name: spec.name.clone(),
            spec: Some(spec),
            state: OnceLock::new(),
        }));
        let file = config.file.display().to_string();
        let (default, default_origin) = if config.default.is_empty() {
            let first = slots.get(1).map_or(EMBEDDED, |s| s.name.as_str());
            (
                vec![first.to_string()],
                format!("the first plugin of {file}"),
            )
        } else {
            (config.default, format!("`default` in {file}"))
        };
        Registry {
            slots,
            default,
            default_origin,
            source: file,
            chosen: OnceLock::new(),
        }
    }

    /// Discovers the configuration as described in the module docs and
    /// applies `OXJAX_DEVICE`.
    pub fn discover() -> Result<Registry> {
        let mut reg = match config_file() {
            Some(f) => Registry::from_file(&f)?,
            None => Registry::embedded(),
        };
        if let Ok(name) = std::env::var("OXJAX_DEVICE")
            && !name.is_empty()
        {
            reg.index(&name)
                .map_err(|e| Error::new(ErrorKind::Config, format!("OXJAX_DEVICE: {e}")))?;
            reg.default = vec![name];
            reg.default_origin = "OXJAX_DEVICE".into();
        }
        Ok(reg)
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.slots
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.slots.iter().map(|s| s.name.as_str()).collect();
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "unknown device '{name}' (from {}); known devices: {}",
                        self.source,
                        known.join(", ")
                    ),
                )
            })
    }

    /// Starts slot `i` (once) and returns its device or why it is unavailable.
    fn start(&self, i: usize) -> std::result::Result<Device, Failure> {
        let slot = &self.slots[i];
        slot.state
            .get_or_init(|| match &slot.spec {
                None => Ok(embedded_device()),
                Some(spec) => {
                    let (backend, path) = (loader::load(&spec.path, &spec.options), &spec.path);
                    let fail = |stage, e| Failure {
                        stage,
                        error: with_context(e, &self.source, &spec.name),
                    };
                    match backend {
                        Err(loader::LoadError { started, error }) => Err(fail(
                            if started {
                                Status::FailedToStart
                            } else if path.is_file() {
                                Status::FailedToLoad
                            } else {
                                Status::NotFound
                            },
                            error,
                        )),
                        Ok(b) => Device::new(&spec.name, b, Some(path.clone()), spec.watchdog)
                            .map_err(|e| fail(Status::FailedToStart, e)),
                    }
                }
            })
            .clone()
    }

    /// The device called `name`, started on first use; the error says why it
    /// is unknown (listing the known ones) or unavailable.
    pub fn device(&self, name: &str) -> Result<Device> {
        self.start(self.index(name)?).map_err(|f| f.error)
    }

    /// The default device and why it is the default: the first of the
    /// preference list that starts. With a single name, its failure is the
    /// error (no silent fallback).
    pub fn default_choice(&self) -> Result<(Device, String)> {
        let (i, why) = self
            .chosen
            .get_or_init(|| {
                let mut skipped = Vec::new();
                for name in &self.default {
                    let i = self.index(name)?;
                    match self.start(i) {
                        Ok(_) if skipped.is_empty() => {
                            return Ok((i, self.default_origin.clone()));
                        }
                        Ok(_) => {
                            return Ok((
                                i,
                                format!(
                                    "the first working device of {}; skipped: {}",
                                    self.default_origin,
                                    skipped.join("; ")
                                ),
                            ));
                        }
                        Err(f) => skipped.push(format!("'{name}': {}", f.error)),
                    }
                }
                let fix = if self.default.len() == 1 {
                    "pick another device with OXJAX_DEVICE=<name> or `default` in plugins.toml \
                     (a list such as default = [\"webgpu\", \"wasm\"] falls back in order)"
                } else {
                    "fix one of them or add a working device to the list"
                };
                Err(Error::new(
                    ErrorKind::Plugin,
                    format!(
                        "the default device is unavailable ({}): {}; {fix}",
                        self.default_origin,
                        skipped.join("; ")
                    ),
                ))
            })
            .clone()?;
        Ok((self.start(i).map_err(|f| f.error)?, why))
    }

    /// The default device (`default` in plugins.toml, or `OXJAX_DEVICE`).
    pub fn try_default_device(&self) -> Result<Device> {
        self.default_choice().map(|(d, _)| d)
    }

    /// The default device; panics with the reason and the fix if it cannot
    /// start (see [`Registry::try_default_device`]).
    pub fn default_device(&self) -> Device {
        self.try_default_device()
            .unwrap_or_else(|e| crate::error::raise(e.prefixed("oxjax")))
    }

    /// Every device that starts (the plugins' and `embedded`); the others
    /// are listed with their errors by [`Registry::report`].
    pub fn devices(&self) -> Vec<Device> {
        (0..self.slots.len())
            .filter_map(|i| self.start(i).ok())
            .collect()
    }

    /// Every configured device, or the first one's error that does not
    /// start (tests use this so a missing backend fails instead of skipping).
    pub fn try_devices(&self) -> Result<Vec<Device>> {
        (0..self.slots.len())
            .map(|i| self.start(i).map_err(|f| f.error))
            .collect()
    }

    /// Starts every device and says how each fared.
    pub fn report(&self) -> DeviceReport {
        let default = self.default_choice();
        let entries = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (status, device, error) = match self.start(i) {
                    Ok(d) => (Status::Ok, Some(d), None),
                    Err(f) => (f.stage, None, Some(f.error)),
                };
                let library = s.spec.as_ref().map(|p| p.path.clone());
                DeviceEntry {
                    abi: library.as_deref().and_then(loader::abi_version),
                    is_default: matches!(&default, Ok((d, _)) if device.as_ref().is_some_and(|x| x.same(d))),
                    name: s.name.clone(),
                    library,
                    status,
                    device,
                    error,
                }
            })
            .collect();
        DeviceReport {
            source: self.source.clone(),
            default: default.map(|(d, why)| (d.name().to_string(), why)),
            entries,
        }
    }
}

/// How a configured device fared when it was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Loaded and started.
    Ok,
    /// The plugin library file does not exist.
    NotFound,
    /// The library exists but could not be loaded (not a library, wrong
    /// architecture, missing dependency, not an oxjax plugin, ABI mismatch).
    FailedToLoad,
    /// The plugin loaded but its backend refused to start (no GPU adapter,
    /// bad options).
    FailedToStart,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::NotFound => "not found",
            Status::FailedToLoad => "failed to load",
            Status::FailedToStart => "failed to start",
        })
    }
}

/// One row of a [`DeviceReport`].
#[derive(Clone)]
pub struct DeviceEntry {
    /// The device's name in `plugins.toml` (or `embedded`).
    pub name: String,
    /// The plugin library; `None` for `embedded`.
    pub library: Option<PathBuf>,
    /// The plugin's oxjax ABI version, where the library could be read.
    pub abi: Option<oxjax_abi::AbiVersion>,
    /// How it fared when started.
    pub status: Status,
    /// Whether it is the default device.
    pub is_default: bool,
    /// The started device (status ok).
    pub device: Option<Device>,
    /// Why it is unavailable (status not ok).
    pub error: Option<Error>,
}

/// Every configured device and its status: `cargo xtask devices` prints it.
#[derive(Clone)]
pub struct DeviceReport {
    /// Where the configuration came from.
    pub source: String,
    /// The default device's name and why it is the default, or why there is none.
    pub default: Result<(String, String)>,
    /// Every configured device, `embedded` first.
    pub entries: Vec<DeviceEntry>,
}

impl fmt::Display for DeviceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "configuration: {}", self.source)?;
        match &self.default {
            Ok((name, why)) => writeln!(f, "default device: {name} ({why})")?,
            Err(e) => writeln!(f, "default device: none — {e}")?,
        }
        for e in &self.entries {
            let mark = if e.is_default { " (default)" } else { "" };
            writeln!(f, "\n{}{mark}: {}", e.name, e.status)?;
            match &e.library {
                Some(p) => writeln!(f, "  plugin:   {}", p.display())?,
                None => writeln!(f, "  plugin:   built in (the reference interpreter)")?,
            }
            if let Some(v) = e.abi {
                writeln!(
                    f,
                    "  abi:      {v} (this oxjax: {})",
                    oxjax_abi::ABI_VERSION
                )?;
            }
            if let Some(d) = &e.device {
                let info = d.info();
                let caps = &info.caps;
                let dtypes: Vec<String> = caps.dtypes.iter().map(|t| t.to_string()).collect();
                let routines: Vec<&str> = caps.routines.iter().map(|r| r.name()).collect();
                writeln!(
                    f,
                    "  backend:  {} {} on {}",
                    info.name, info.version, info.device
                )?;
                writeln!(f, "  dtypes:   {}", dtypes.join(" "))?;
                writeln!(
                    f,
                    "  ops:      {} of {}; max inputs per kernel: {}",
                    caps.ops.len(),
                    oxjax_abi::OPS.len(),
                    if caps.max_inputs == u32::MAX {
                        "unlimited".to_string()
                    } else {
                        caps.max_inputs.to_string()
                    }
                )?;
                let routines = if routines.is_empty() {
                    "none (the host runs them)".to_string()
                } else {
                    routines.join(" ")
                };
                writeln!(f, "  routines: {routines}")?;
            }
            if let Some(err) = &e.error {
                writeln!(f, "  reason:   {err}")?;
            }
        }
        Ok(())
    }
}

fn with_context(e: Error, file: &str, plugin: &str) -> Error {
    match e.kind() {
        ErrorKind::Plugin => e.prefixed(format_args!("{file}: plugin '{plugin}'")),
        _ => e,
    }
}

fn embedded_slot() -> Slot {
    Slot {
        name: EMBEDDED.into(),
        spec: None,
        state: OnceLock::new(),
    }
}

fn embedded_device() -> Device {
    let backend =
        oxjax_reference::new("").expect("the embedded reference backend takes no options");
    Device::new(EMBEDDED, oxjax_abi::into_object(backend), None, None)
        .expect("the embedded reference backend starts")
}

/// The `plugins.toml` a registry is discovered from: `OXJAX_PLUGINS`, else
/// the nearest one from the current directory upward; `None` when neither
/// exists (only `embedded` then). Tools that load the same file as an
/// application would (tests, the conformance CLI) call this.
pub fn config_file() -> Option<PathBuf> {
    match std::env::var_os("OXJAX_PLUGINS").filter(|f| !f.is_empty()) {
        Some(f) => Some(PathBuf::from(f)),
        None => std::env::current_dir().ok().and_then(|d| find_upward(&d)),
    }
}

/// The process-wide registry, or why `plugins.toml` could not be read.
fn global() -> Result<&'static Registry> {
    static REGISTRY: OnceLock<Result<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let reg = Registry::discover()?;
            if crate::debug::log_info() {
                eprintln!("oxjax: devices from {}", reg.source);
            }
            if reg.slots.len() == 1 && std::env::var_os("OXJAX_PLUGINS").is_none() {
                eprintln!(
                    "oxjax: no plugins.toml found from {} upward; using the built-in `embedded` \
                     interpreter (slow). Set OXJAX_PLUGINS=<path to plugins.toml> to use plugin \
                     devices.",
                    std::env::current_dir()
                        .map(|d| d.display().to_string())
                        .unwrap_or_else(|_| "the current directory".into())
                );
            }
            Ok(reg)
        })
        .as_ref()
        .map_err(Clone::clone)
}

thread_local! {
    static SCOPED: RefCell<Vec<Device>> = const { RefCell::new(Vec::new()) };
}

/// The device new arrays are created on: the innermost
/// [`with_default_device`] scope, else the registry's default. Panics with
/// the reason and the fix when that device cannot start; see
/// [`try_default_device`].
pub fn default_device() -> Device {
    try_default_device().unwrap_or_else(|e| crate::error::raise(e.prefixed("oxjax")))
}

/// Like [`default_device`], returning why there is none as an error.
pub fn try_default_device() -> Result<Device> {
    match SCOPED.with(|s| s.borrow().last().cloned()) {
        Some(d) => Ok(d),
        None => global_default().map(|(d, _)| d),
    }
}

/// The default device and why it is the default (for a program's banner).
pub fn default_device_choice() -> Result<(Device, String)> {
    match SCOPED.with(|s| s.borrow().last().cloned()) {
        Some(d) => Ok((d, "with_default_device".into())),
        None => global_default(),
    }
}

/// The process-wide default; under `OXJAX_LOG=info` the first call says
/// which device it is and why.
fn global_default() -> Result<(Device, String)> {
    let choice = global()?.default_choice()?;
    if crate::debug::log_info() {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            eprintln!(
                "oxjax: default device '{}' ({}; {})",
                choice.0.name(),
                choice.1,
                choice.0.info().device
            )
        });
    }
    Ok(choice)
}

/// The device called `name` in the process-wide registry.
pub fn device(name: &str) -> Result<Device> {
    global()?.device(name)
}

/// Every device of the process-wide registry that starts; the error is a
/// bad `plugins.toml`. [`device_report`] lists the unavailable ones too.
pub fn devices() -> Result<Vec<Device>> {
    Ok(global()?.devices())
}

/// Every configured device with its status, plugin, ABI version,
/// capabilities and, for an unavailable one, why (`cargo xtask devices`).
pub fn device_report() -> Result<DeviceReport> {
    Ok(global()?.report())
}

/// Runs `f` with `device` as the default for new arrays on this thread
/// (like `jax.default_device`).
pub fn with_default_device<R>(device: &Device, f: impl FnOnce() -> R) -> R {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            SCOPED.with(|s| s.borrow_mut().pop());
        }
    }
    SCOPED.with(|s| s.borrow_mut().push(device.clone()));
    let _pop = Pop;
    f()
}
