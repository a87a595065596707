//! The on-disk cache of compiled modules.
//!
//! One file per module, named by a hash of the engine's compatibility key
//! and the module's wasm bytes. A file holds a magic tag, the wasm bytes
//! themselves (compared on load, so a hash collision can never return the
//! wrong code), a checksum of the serialized code and the code as
//! `Module::serialize` wrote it. A missing, truncated, corrupt or stale
//! entry is ignored and rewritten; writes go through a temporary file and a
//! rename, so concurrent processes never see half a file.
//!
//! The cache is bounded (least recently used first): a hit refreshes the
//! file's modification time, and every [`TRIM_EVERY`] stores the folder is
//! trimmed to three quarters of [`MAX_FILES`] and [`MAX_BYTES`] when it
//! exceeds either, oldest first. A long-running program that compiles a
//! kernel per step therefore keeps the disk flat.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;
use wasmtime::{Engine, Module};

/// The most entries the folder keeps.
const MAX_FILES: usize = 4096;
/// The most bytes the folder keeps.
const MAX_BYTES: u64 = 512 << 20;
/// Stores between two looks at the folder's size.
const TRIM_EVERY: u64 = 64;

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
    stores: AtomicU64,
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
            stores: AtomicU64::new(0),
        })
    }

    pub fn path(&self, wasm: &[u8]) -> PathBuf {
        self.dir
            .join(format!("{:016x}.oxwasm", fnv(self.engine_key, wasm)))
    }

    /// The cached module of `wasm`, if a sound entry exists.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> Option<Module> {
        let path = self.path(wasm);
        let data = std::fs::read(&path).ok()?;
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
        let module = unsafe { Module::deserialize(engine, code) }.ok()?;
        // Recently used: trimming removes the oldest files first.
        if let Ok(f) = std::fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(module)
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
        if self
            .stores
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(TRIM_EVERY)
        {
            trim(&self.dir, MAX_FILES, MAX_BYTES);
        }
    }
}

/// Removes the least recently used entries of `dir` until at most 3/4 of
/// `max_files` and of `max_bytes` remain, if it holds more than either.
fn trim(dir: &Path, max_files: usize, max_bytes: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(SystemTime, u64, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "oxwasm"))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((m.modified().ok()?, m.len(), e.path()))
        })
        .collect();
    let mut bytes: u64 = files.iter().map(|f| f.1).sum();
    if files.len() <= max_files && bytes <= max_bytes {
        return;
    }
    files.sort();
    let mut count = files.len();
    for (_, len, path) in files {
        if count <= max_files * 3 / 4 && bytes <= max_bytes / 4 * 3 {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            count -= 1;
            bytes -= len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_keeps_the_most_recently_used_entries() {
        let dir = std::env::temp_dir().join(format!("oxjax-disk-trim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let t0 = SystemTime::now() - std::time::Duration::from_secs(1000);
        for i in 0..20u64 {
            let p = dir.join(format!("{i:016x}.oxwasm"));
            std::fs::write(&p, [0u8; 10]).unwrap();
            let f = std::fs::File::options().append(true).open(&p).unwrap();
            f.set_modified(t0 + std::time::Duration::from_secs(i))
                .unwrap();
        }
        std::fs::write(dir.join("other.txt"), b"not an entry").unwrap();
        trim(&dir, 8, 1 << 20);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut want: Vec<String> = (14..20u64).map(|i| format!("{i:016x}.oxwasm")).collect();
        want.push("other.txt".into());
        assert_eq!(left, want);
        // Over the byte bound alone.
        trim(&dir, 100, 35);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
