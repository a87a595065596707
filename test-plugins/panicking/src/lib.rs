//! A backend that stores buffers correctly but panics in `compile`, so the
//! host's panic guard can be tested: the call must fail with an error and
//! the host must keep working. With `options = { hang = true }` it compiles
//! fine and never returns from `execute`, for the host's watchdog test.

use oxjax_abi::{
    Backend, BackendError, BackendInfo, BufferId, Capabilities, ErrorKind, ExecutableId, Kernel,
};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
struct Panicking {
    buffers: Mutex<(u64, HashMap<u64, Vec<u8>>)>,
    hang: bool,
}

fn missing(id: BufferId) -> BackendError {
    BackendError::new(ErrorKind::INVALID_ARGUMENT, format!("no buffer {}", id.0))
}

impl Backend for Panicking {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "panicking".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            device: "test fixture".into(),
            caps: Capabilities::everything(&[]),
        }
    }
    fn alloc(&self, bytes: u64) -> Result<BufferId, BackendError> {
        let mut b = self.buffers.lock().unwrap();
        b.0 += 1;
        let id = b.0;
        b.1.insert(id, vec![0; bytes as usize]);
        Ok(BufferId(id))
    }
    fn free(&self, buffer: BufferId) {
        self.buffers.lock().unwrap().1.remove(&buffer.0);
    }
    fn write(&self, buffer: BufferId, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        let mut b = self.buffers.lock().unwrap();
        let buf = b.1.get_mut(&buffer.0).ok_or_else(|| missing(buffer))?;
        buf[offset as usize..offset as usize + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn read(&self, buffer: BufferId, offset: u64, len: u64) -> Result<Vec<u8>, BackendError> {
        let b = self.buffers.lock().unwrap();
        let buf = b.1.get(&buffer.0).ok_or_else(|| missing(buffer))?;
        Ok(buf[offset as usize..(offset + len) as usize].to_vec())
    }
    fn compile(&self, kernel: &Kernel) -> Result<ExecutableId, BackendError> {
        if self.hang {
            return Ok(ExecutableId(1));
        }
        panic!(
            "deliberate panic compiling a kernel of {} nodes",
            kernel.nodes.len()
        );
    }
    fn execute(&self, _: ExecutableId, _: &[BufferId], _: &[BufferId]) -> Result<(), BackendError> {
        if self.hang {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        Err(BackendError::new(
            ErrorKind::EXECUTION,
            "nothing compiles here",
        ))
    }
    fn release(&self, _: ExecutableId) {}
}

fn new(options: &str) -> Result<Panicking, BackendError> {
    // A test fixture: no TOML parser, just the one option it knows.
    Ok(Panicking {
        hang: options.split_whitespace().collect::<String>() == "hang=true",
        ..Panicking::default()
    })
}

oxjax_abi::export_backend!(new);
