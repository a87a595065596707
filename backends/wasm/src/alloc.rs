//! A size-class allocator over the shared linear memory.
//!
//! Requests are rounded up to a size class (64 bytes, then four classes per
//! power of two), freed blocks go to their class's free list and are reused
//! first; otherwise blocks are carved from the top of the used region,
//! growing the memory when needed. Every block is 64-byte aligned. When the
//! memory cannot grow, the request fails with `OUT_OF_MEMORY`. A carved
//! block has never been used, so it still holds the zeros `memory.grow`
//! gave it; a reused one holds stale bytes (the caller zeroes it lazily).

use oxjax_abi::{BackendError, ErrorKind};
use std::collections::HashMap;
use wasmtime::SharedMemory;

const PAGE: u64 = 65536;
const MIN_CLASS: u64 = 64;

pub(crate) struct Allocator {
    free: HashMap<u64, Vec<u64>>,
    top: u64,
    limit: u64,
}

/// The size class of a request of `n` bytes.
pub(crate) fn class(n: u64) -> u64 {
    if n <= MIN_CLASS {
        return MIN_CLASS;
    }
    let b = 1u64 << (63 - (n - 1).leading_zeros()); // largest power of two < n
    let step = (b / 4).max(MIN_CLASS);
    b + (n - b).div_ceil(step) * step
}

impl Allocator {
    pub fn new(start: u64, limit: u64) -> Allocator {
        Allocator {
            free: HashMap::new(),
            top: start,
            limit,
        }
    }

    /// A block of at least `bytes` bytes: its address and whether it is
    /// fresh (all zero) rather than reused.
    pub fn alloc(
        &mut self,
        bytes: u64,
        memory: &SharedMemory,
    ) -> Result<(u64, bool), BackendError> {
        let size = class(bytes);
        if let Some(addr) = self.free.get_mut(&size).and_then(Vec::pop) {
            return Ok((addr, false));
        }
        let oom = |why: String| {
            BackendError::new(
                ErrorKind::OUT_OF_MEMORY,
                format!("cannot allocate {bytes} bytes in wasm linear memory: {why}"),
            )
        };
        let end = self
            .top
            .checked_add(size)
            .filter(|&e| e <= self.limit)
            .ok_or_else(|| {
                oom(format!(
                    "{} bytes in use or cached, the limit is {}",
                    self.top, self.limit
                ))
            })?;
        let have = memory.data_size() as u64;
        if end > have {
            let need = (end - have).div_ceil(PAGE);
            // Grow by at least an eighth of the current size to amortise.
            let want = need.max(have / PAGE / 8);
            let limit_pages = (self.limit - have) / PAGE;
            if memory.grow(want.min(limit_pages).max(need)).is_err() {
                memory
                    .grow(need)
                    .map_err(|e| oom(format!("the memory cannot grow: {e}")))?;
            }
        }
        let addr = self.top;
        self.top = end;
        Ok((addr, true))
    }

    pub fn free(&mut self, addr: u64, bytes: u64) {
        self.free.entry(class(bytes)).or_default().push(addr);
    }
}

#[cfg(test)]
mod tests {
    use super::class;

    #[test]
    fn classes_cover_requests_and_stay_aligned() {
        for n in 1..100_000u64 {
            let c = class(n);
            assert!(c >= n && c.is_multiple_of(64), "{n} -> {c}");
            assert!(c <= n + n / 4 + 64, "{n} -> {c} wastes too much");
        }
    }
}
