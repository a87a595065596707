//! The on-disk cache of compiled modules.
//!
//! One file per module, named by a hash of the engine's compatibility key
//! and the module's wasm bytes. A file holds a magic tag, the wasm bytes
//! themselves (compared on load, so a hash collision can never return the
//! wrong code), a checksum of the serialized code and the code as
//! `Module::serialize` wrote it. A missing, truncated, corrupt or stale
//! entry is ignored and rewritten; writes go through a temporary file and a
//! rename, so concurrent processes never see half a file.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::{Engine, Module};

const MAGIC: &[u8; 8] = b"OXWASM01";

/// FNV-1a, 64 bits: stable across runs and Rust versions.
fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv(self.0, bytes);
    }
}

pub(crate) struct DiskCache {
    dir: PathBuf,
    engine_key: u64,
}

/// The default cache directory: `$OXJAX_CACHE_DIR/wasm`, else
/// `$XDG_CACHE_HOME/oxjax/wasm`, else `$HOME/.cache/oxjax/wasm`.
pub(crate) fn default_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("OXJAX_CACHE_DIR") {
        return Some(d.join("wasm"));
    }
    if let Some(d) = env("XDG_CACHE_HOME") {
        return Some(d.join("oxjax").join("wasm"));
    }
    env("HOME").map(|h| h.join(".cache").join("oxjax").join("wasm"))
}

impl DiskCache {
    /// A cache in `dir`, created if needed; `None` if it cannot be.
    pub fn new(dir: &Path, engine: &Engine) -> Option<DiskCache> {
        std::fs::create_dir_all(dir).ok()?;
        let mut h = Fnv(0);
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        Some(DiskCache {
            dir: dir.to_path_buf(),
            engine_key: h.finish(),
        })
    }

    pub fn path(&self, wasm: &[u8]) -> PathBuf {
        self.dir
            .join(format!("{:016x}.oxwasm", fnv(self.engine_key, wasm)))
    }

    /// The cached module of `wasm`, if a sound entry exists.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> Option<Module> {
        let data = std::fs::read(self.path(wasm)).ok()?;
        let rest = data.strip_prefix(MAGIC)?;
        let (len, rest) = rest.split_first_chunk::<8>()?;
        let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
        if rest.len() < len || &rest[..len] != wasm {
            return None;
        }
        let (sum, code) = rest[len..].split_first_chunk::<8>()?;
        if u64::from_le_bytes(*sum) != fnv(0, code) {
            return None;
        }
        // SAFETY: the bytes are exactly what `Module::serialize` produced
        // for this engine configuration (checksum verified); wasmtime
        // checks the version and configuration itself.
        unsafe { Module::deserialize(engine, code) }.ok()
    }

    /// Stores a module; failures are ignored (the cache is an optimisation).
    pub fn store(&self, module: &Module, wasm: &[u8]) {
        let Ok(code) = module.serialize() else { return };
        let mut data = Vec::with_capacity(32 + wasm.len() + code.len());
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&(wasm.len() as u64).to_le_bytes());
        data.extend_from_slice(wasm);
        data.extend_from_slice(&fnv(0, &code).to_le_bytes());
        data.extend_from_slice(&code);
        let path = self.path(wasm);
        let tmp = path.with_extension(format!(
            "tmp{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        if std::fs::write(&tmp, &data).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}
