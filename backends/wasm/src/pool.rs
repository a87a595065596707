//! Instances and worker threads.
//!
//! A [`Worker`] owns a wasmtime `Store` whose instances import the shared
//! memory; it keeps one instance per compiled module. The [`Pool`] runs
//! worker threads, each with its own `Worker`, that take ranges of `gidx`.
//!
//! Hand-offs poll before they sleep ([`SPIN`]): a jitted program launches
//! kernels microseconds apart, and waking a sleeping thread costs tens of
//! microseconds on a virtual machine (a batch-1 product of 1x784x512 took
//! 36 us on one thread and 64 us on two when both sides slept).

use crate::Compiled;
use oxjax_abi::FastMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvError, Sender, TryRecvError, channel};
use std::time::{Duration, Instant};
use wasmtime::{Engine, Extern, Func, Global, Instance, SharedMemory, Store, TypedFunc, Val};

/// Instances a store may accumulate before it is replaced by a fresh one
/// (wasmtime frees instances only with their store).
const MAX_INSTANCES: usize = 256;

/// How long a worker waits for its next range, and the caller for its
/// workers, polling before it blocks. Each poll that finds nothing yields
/// the core, so a machine with more runnable threads than cores (parallel
/// tests) loses little to it.
const SPIN: Duration = Duration::from_micros(200);

/// `rx.recv()`, polling for up to [`SPIN`] before blocking.
fn recv_spinning<T>(rx: &Receiver<T>) -> Result<T, RecvError> {
    let start = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Disconnected) => return Err(RecvError),
            Err(TryRecvError::Empty) if start.elapsed() >= SPIN => return rx.recv(),
            Err(TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
}

/// A module instance's `run` and, for a packing matmul, its scratch global.
type Entry = (TypedFunc<(i32, i32), ()>, Option<Global>);

pub(crate) struct Worker {
    engine: Engine,
    memory: SharedMemory,
    store: Store<()>,
    imports: Vec<Extern>,
    instances: FastMap<u64, Entry>,
}

fn host(x: f64, f: fn(f64) -> f64) -> f64 {
    f(x)
}

impl Worker {
    pub fn new(engine: &Engine, memory: &SharedMemory) -> Worker {
        let mut store = Store::new(engine, ());
        let mut imports = vec![Extern::SharedMemory(memory.clone())];
        let fns: [fn(f64) -> f64; 3] = [f64::sin, f64::cos, f64::tan];
        for f in fns {
            imports.push(Func::wrap(&mut store, move |x: f64| host(x, f)).into());
        }
        Worker {
            engine: engine.clone(),
            memory: memory.clone(),
            store,
            imports,
            instances: FastMap::default(),
        }
    }

    /// Runs `run(start, end)` of a compiled kernel; `scratch` is the
    /// address of this thread's scratch memory (0: none).
    pub fn run(
        &mut self,
        exe: &Compiled,
        start: i32,
        end: i32,
        scratch: u32,
    ) -> Result<(), String> {
        // One lookup on the hot path (a loop's launches come here in turn).
        let (f, g) = match self.instances.get(&exe.serial) {
            Some(entry) => entry,
            None => {
                if self.instances.len() >= MAX_INSTANCES {
                    *self = Worker::new(&self.engine, &self.memory);
                }
                let inst = Instance::new(&mut self.store, &exe.module, &self.imports)
                    .map_err(|e| format!("cannot instantiate the kernel module: {e:#}"))?;
                let f = inst
                    .get_typed_func::<(i32, i32), ()>(&mut self.store, "run")
                    .map_err(|e| format!("kernel module without run: {e:#}"))?;
                let g = inst.get_global(&mut self.store, crate::matmul::SCRATCH_GLOBAL);
                self.instances.entry(exe.serial).or_insert((f, g))
            }
        };
        // Borrowed, not cloned: a clone of a typed function costs more
        // than a small kernel's run.
        if let Some(g) = g {
            g.set(&mut self.store, Val::I32(scratch as i32))
                .map_err(|e| format!("cannot set the scratch address: {e:#}"))?;
        }
        f.call(&mut self.store, (start, end))
            .map_err(|e| format!("kernel trapped: {e:#}\nkernel:\n{}", exe.kernel))
    }
}

struct Job {
    exe: Arc<Compiled>,
    start: i32,
    end: i32,
    scratch: u32,
    done: Sender<Result<(), String>>,
}

pub(crate) struct Pool {
    senders: Vec<Sender<Job>>,
    /// Ranges the worker threads have run (for tests).
    pub jobs: Arc<AtomicU64>,
}

/// Completion of the jobs of one `submit`.
pub(crate) struct Pending {
    rx: Receiver<Result<(), String>>,
    count: usize,
}

impl Pending {
    pub fn wait(self) -> Result<(), String> {
        let mut result = Ok(());
        for _ in 0..self.count {
            let r = recv_spinning(&self.rx).unwrap_or_else(|_| Err("a worker thread died".into()));
            if result.is_ok() {
                result = r;
            }
        }
        result
    }
}

impl Pool {
    pub fn new(engine: &Engine, memory: &SharedMemory, threads: usize) -> Pool {
        let jobs = Arc::new(AtomicU64::new(0));
        let senders = (0..threads)
            .map(|t| {
                let (tx, rx) = channel::<Job>();
                let mut worker = Worker::new(engine, memory);
                let jobs = jobs.clone();
                std::thread::Builder::new()
                    .name(format!("oxjax-wasm-{t}"))
                    .spawn(move || {
                        while let Ok(job) = recv_spinning(&rx) {
                            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                worker.run(&job.exe, job.start, job.end, job.scratch)
                            }))
                            .unwrap_or_else(|_| Err("a worker thread panicked".into()));
                            jobs.fetch_add(1, Ordering::Relaxed);
                            let _ = job.done.send(r);
                        }
                    })
                    .expect("spawn a wasm worker thread");
                tx
            })
            .collect();
        Pool { senders, jobs }
    }

    /// Runs the ranges `bounds[i]..bounds[i + 1]` on the workers (at most
    /// one per worker; `bounds.len() - 1 <= threads`); worker `w` gets the
    /// scratch memory `scratch[w]` (0: none).
    pub fn submit(&self, exe: &Arc<Compiled>, bounds: &[i32], scratch: &[u32]) -> Pending {
        let (done, rx) = channel();
        let mut count = 0;
        for (w, pair) in bounds.windows(2).enumerate() {
            let job = Job {
                exe: exe.clone(),
                start: pair[0],
                end: pair[1],
                scratch: scratch.get(w).copied().unwrap_or(0),
                done: done.clone(),
            };
            match self.senders.get(w).map(|s| s.send(job)) {
                Some(Ok(())) => count += 1,
                _ => {
                    let _ = done.send(Err("no worker thread for a range".into()));
                    count += 1;
                }
            }
        }
        Pending { rx, count }
    }
}
