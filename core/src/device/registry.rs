//! Finding devices.
//!
//! The process-wide registry is built on first use from, in order:
//! `OXJAX_PLUGINS=<file>`; else the nearest `plugins.toml` from the current
//! directory upward; else nothing but the embedded reference backend, so a
//! program always runs. The embedded backend is always present as the device
//! `embedded`. `OXJAX_DEVICE=<name>` overrides the file's `default`.

use super::Device;
use super::config::{Config, EMBEDDED, find_upward};
use super::loader;
use crate::error::{Error, Result};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A set of named devices and a default.
pub struct Registry {
    devices: Vec<Device>,
    default: usize,
    /// Where the configuration came from (for messages).
    source: String,
}

impl Registry {
    /// Only the embedded reference backend.
    pub fn embedded() -> Registry {
        Registry {
            devices: vec![embedded_device()],
            default: 0,
            source: "built-in defaults (no plugins.toml found)".into(),
        }
    }

    /// Loads every plugin a `plugins.toml` names.
    pub fn from_file(file: &Path) -> Result<Registry> {
        Registry::from_config(Config::read(file)?)
    }

    /// Like [`Registry::from_file`], for a document held in memory whose
    /// relative paths resolve against `file`'s folder.
    pub fn from_toml(text: &str, file: &Path) -> Result<Registry> {
        Registry::from_config(Config::parse(text, file)?)
    }

    fn from_config(config: Config) -> Result<Registry> {
        let mut devices = vec![embedded_device()];
        for spec in &config.plugins {
            let backend = loader::load(&spec.path, &spec.options)
                .map_err(|e| with_context(e, &config.file, &spec.name))?;
            devices.push(Device::new(&spec.name, backend, Some(spec.path.clone()))?);
        }
        let default_name = config
            .default
            .as_deref()
            .unwrap_or(match config.plugins.first() {
                Some(p) => p.name.as_str(),
                None => EMBEDDED,
            });
        let default = devices
            .iter()
            .position(|d| d.name() == default_name)
            .unwrap_or(0);
        Ok(Registry {
            devices,
            default,
            source: config.file.display().to_string(),
        })
    }

    /// Discovers the configuration as described in the module docs and
    /// applies `OXJAX_DEVICE`.
    pub fn discover() -> Result<Registry> {
        let file = match std::env::var_os("OXJAX_PLUGINS") {
            Some(f) => Some(PathBuf::from(f)),
            None => std::env::current_dir().ok().and_then(|d| find_upward(&d)),
        };
        let mut reg = match file {
            Some(f) => Registry::from_file(&f)?,
            None => Registry::embedded(),
        };
        if let Ok(name) = std::env::var("OXJAX_DEVICE")
            && !name.is_empty()
        {
            reg.default = reg
                .index(&name)
                .map_err(|e| Error::Config(format!("OXJAX_DEVICE: {e}")))?;
        }
        Ok(reg)
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.devices
            .iter()
            .position(|d| d.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.devices.iter().map(|d| d.name()).collect();
                Error::Config(format!(
                    "unknown device '{name}' (from {}); known devices: {}",
                    self.source,
                    known.join(", ")
                ))
            })
    }

    /// The device called `name`; the error lists the known ones.
    pub fn device(&self, name: &str) -> Result<Device> {
        Ok(self.devices[self.index(name)?].clone())
    }

    /// The registry's default device (`default` in plugins.toml, or `OXJAX_DEVICE`).
    pub fn default_device(&self) -> Device {
        self.devices[self.default].clone()
    }

    /// Every device: the plugins' and `embedded`.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }
}

fn with_context(e: Error, file: &Path, plugin: &str) -> Error {
    match e {
        Error::Plugin(m) => Error::Plugin(format!("{}: plugin '{plugin}': {m}", file.display())),
        other => other,
    }
}

fn embedded_device() -> Device {
    let backend =
        oxjax_backend_reference::new("").expect("the embedded reference backend takes no options");
    Device::new(EMBEDDED, oxjax_abi::into_object(backend), None)
        .expect("the embedded reference backend starts")
}

fn global() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::discover().unwrap_or_else(|e| panic!("oxjax: {e}")))
}

thread_local! {
    static SCOPED: RefCell<Vec<Device>> = const { RefCell::new(Vec::new()) };
}

/// The device new arrays are created on: the innermost
/// [`with_default_device`] scope, else the registry's default.
pub fn default_device() -> Device {
    SCOPED
        .with(|s| s.borrow().last().cloned())
        .unwrap_or_else(|| global().default_device())
}

/// The device called `name` in the process-wide registry.
pub fn device(name: &str) -> Result<Device> {
    global().device(name)
}

/// Every device of the process-wide registry.
pub fn devices() -> Vec<Device> {
    global().devices().to_vec()
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
