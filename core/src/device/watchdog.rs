//! An optional deadline on every call into a plugin (`watchdog_ms` in
//! `plugins.toml`), so a plugin that hangs gives an error naming the kernel
//! instead of hanging the program.
//!
//! Calls run on one watchdog thread per device while the caller waits with
//! a timeout. A call that misses its deadline cannot be stopped (the plugin
//! runs in this process), so its thread is left behind and the device is
//! marked lost: every later call fails at once with the same message, and
//! the other devices keep working. The price, paid only where the option is
//! set, is a thread hand-off per call (a few microseconds) and a copy of
//! written and read data.

use crate::error::{Error, Result};
use oxjax_abi::{BackendError, ErrorKind, Kernel};
use std::sync::mpsc::{Receiver, Sender, channel, sync_channel};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct Watchdog {
    limit: Duration,
    jobs: Mutex<Sender<Job>>,
    /// Set when a call missed its deadline.
    lost: OnceLock<String>,
    /// The last kernel launched (for the message).
    last: Mutex<Option<Kernel>>,
}

impl Watchdog {
    pub fn new(device: &str, limit: Duration) -> Watchdog {
        let (tx, rx): (Sender<Job>, Receiver<Job>) = channel();
        std::thread::Builder::new()
            .name(format!("oxjax-watchdog-{device}"))
            .spawn(move || {
                // Ends when the device (the sender) is dropped.
                for job in rx {
                    job();
                }
            })
            .expect("spawn the watchdog thread");
        Watchdog {
            limit,
            jobs: Mutex::new(tx),
            lost: OnceLock::new(),
            last: Mutex::new(None),
        }
    }

    /// Remembers the kernel about to run, for the message of a timeout.
    pub fn launching(&self, kernel: &Kernel) {
        *self.last.lock().unwrap() = Some(kernel.clone());
    }

    /// Runs `f` on the watchdog thread and waits at most the limit.
    pub fn run<T: Send + 'static>(
        &self,
        device: &str,
        what: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        if let Some(why) = self.lost.get() {
            return Err(lost(why.clone()));
        }
        let (tx, rx) = sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        if self.jobs.lock().unwrap().send(job).is_err() {
            return Err(lost(format!(
                "device '{device}': its watchdog thread ended"
            )));
        }
        match rx.recv_timeout(self.limit) {
            Ok(v) => Ok(v),
            Err(_) => {
                let last = match &*self.last.lock().unwrap() {
                    Some(k) => format!("the last kernel launched was:\n{k}"),
                    None => "no kernel had been launched".into(),
                };
                let why = format!(
                    "device '{device}': the plugin's {what} did not return within {} ms \
                     (watchdog_ms in plugins.toml); the device is unusable from now on, \
                     other devices keep working; {last}",
                    self.limit.as_millis()
                );
                let _ = self.lost.set(why.clone());
                Err(lost(why))
            }
        }
    }
}

fn lost(why: String) -> Error {
    Error::from(BackendError::new(ErrorKind::DEVICE, why))
}
