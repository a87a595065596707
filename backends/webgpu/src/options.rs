//! The backend's options (the plugin's `options` table in `plugins.toml`)
//! and adapter selection.

use oxjax_abi::{BackendError, ErrorKind};

/// Parsed options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `power_preference = "low" | "high"` (default high).
    pub power: wgpu::PowerPreference,
    /// `backends = ["vulkan", "metal", "dx12", "gl"]` (default: the first three).
    pub backends: Vec<String>,
    /// `adapter = "..."`: keep adapters whose name contains this
    /// (case-insensitive).
    pub adapter: Option<String>,
    /// `native_sort = true | false`: list sort/argsort in the capabilities
    /// (run them as a bitonic network on the device). Default: on, except
    /// on CPU adapters (lavapipe), where the core's host sort is faster.
    pub native_sort: Option<bool>,
    /// `native_conv = true | false`: list CONV in the capabilities (run it
    /// as the tiled shader of [`crate::conv`]). Default: on, except on CPU
    /// adapters (lavapipe), where the core's host conv is faster.
    pub native_conv: Option<bool>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            power: wgpu::PowerPreference::HighPerformance,
            backends: vec!["vulkan".into(), "metal".into(), "dx12".into()],
            adapter: None,
            native_sort: None,
            native_conv: None,
        }
    }
}

fn invalid(msg: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::INVALID_ARGUMENT, msg)
}

const KEYS: &str = "power_preference, backends, adapter, native_sort, native_conv";

impl Options {
    /// Parses a TOML document; unknown keys and bad values are
    /// `INVALID_ARGUMENT` errors.
    pub fn parse(text: &str) -> Result<Options, BackendError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e| invalid(format!("webgpu options are not valid TOML: {e}")))?;
        let mut o = Options::default();
        for (key, value) in &table {
            match key.as_str() {
                "power_preference" => {
                    o.power = match value.as_str() {
                        Some("low") => wgpu::PowerPreference::LowPower,
                        Some("high") => wgpu::PowerPreference::HighPerformance,
                        _ => {
                            return Err(invalid(format!(
                                "webgpu option power_preference must be \"low\" or \"high\", got {value}"
                            )));
                        }
                    }
                }
                "backends" => {
                    let list = value.as_array().ok_or_else(|| {
                        invalid(format!(
                            "webgpu option backends must be a list of strings, got {value}"
                        ))
                    })?;
                    let mut names = Vec::new();
                    for v in list {
                        match v.as_str() {
                            Some(n @ ("vulkan" | "metal" | "dx12" | "gl")) => {
                                names.push(n.to_string())
                            }
                            _ => {
                                return Err(invalid(format!(
                                    "webgpu option backends: unknown backend {v} (expected \"vulkan\", \"metal\", \"dx12\" or \"gl\")"
                                )));
                            }
                        }
                    }
                    if names.is_empty() {
                        return Err(invalid("webgpu option backends is empty"));
                    }
                    o.backends = names;
                }
                "adapter" => {
                    o.adapter = Some(
                        value
                            .as_str()
                            .ok_or_else(|| {
                                invalid(format!(
                                    "webgpu option adapter must be a string, got {value}"
                                ))
                            })?
                            .to_string(),
                    )
                }
                "native_sort" | "native_conv" => {
                    let on = value.as_bool().ok_or_else(|| {
                        invalid(format!(
                            "webgpu option {key} must be true or false, got {value}"
                        ))
                    })?;
                    if key == "native_sort" {
                        o.native_sort = Some(on);
                    } else {
                        o.native_conv = Some(on);
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "unknown webgpu option `{other}` (known: {KEYS})"
                    )));
                }
            }
        }
        Ok(o)
    }

    fn wgpu_backends(&self) -> wgpu::Backends {
        let mut b = wgpu::Backends::empty();
        for n in &self.backends {
            b |= match n.as_str() {
                "vulkan" => wgpu::Backends::VULKAN,
                "metal" => wgpu::Backends::METAL,
                "dx12" => wgpu::Backends::DX12,
                _ => wgpu::Backends::GL,
            };
        }
        b
    }

    /// Finds the best adapter for these options, or a `DEVICE` error
    /// saying what was tried.
    pub fn select_adapter(&self) -> Result<wgpu::Adapter, BackendError> {
        let backends = self.wgpu_backends();
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let all = pollster::block_on(instance.enumerate_adapters(backends));
        let found: Vec<String> = all
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
            })
            .collect();
        let filter = self.adapter.as_ref().map(|s| s.to_lowercase());
        let rank = |t: wgpu::DeviceType| -> u8 {
            use wgpu::DeviceType as D;
            let low = self.power == wgpu::PowerPreference::LowPower;
            match t {
                D::DiscreteGpu if low => 1,
                D::DiscreteGpu => 0,
                D::IntegratedGpu if low => 0,
                D::IntegratedGpu => 1,
                D::VirtualGpu => 2,
                D::Other => 3,
                D::Cpu => 4,
            }
        };
        let best = all
            .into_iter()
            .filter(|a| {
                filter
                    .as_ref()
                    .is_none_or(|f| a.get_info().name.to_lowercase().contains(f))
            })
            .min_by_key(|a| rank(a.get_info().device_type));
        best.ok_or_else(|| {
            let mut msg = format!(
                "no WebGPU adapter found: tried backends [{}]",
                self.backends.join(", ")
            );
            if let Some(f) = &self.adapter {
                msg.push_str(&format!(" with adapter names containing {f:?}"));
            }
            if found.is_empty() {
                msg.push_str("; no adapters were found at all");
            } else {
                msg.push_str(&format!("; adapters present: {}", found.join(", ")));
            }
            msg.push_str(&format!("; this build supports {}", supported_here()));
            if cfg!(target_os = "linux") {
                msg.push_str(
                    ". On Linux, install a Vulkan driver; without a GPU, software Vulkan \
                     (lavapipe) works: `apt-get install mesa-vulkan-drivers`",
                );
            }
            BackendError::new(ErrorKind::DEVICE, msg)
        })
    }
}

/// The backends compiled into this build on this platform, in words.
fn supported_here() -> &'static str {
    if cfg!(target_os = "macos") || cfg!(target_os = "ios") {
        "metal (and vulkan through MoltenVK)"
    } else if cfg!(windows) {
        "vulkan and dx12"
    } else {
        "vulkan only (metal and dx12 do not exist here; gl is not compiled in)"
    }
}
