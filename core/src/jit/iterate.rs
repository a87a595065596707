//! Loops without arrays: a loop body whose compiled steps are all kernels
//! is bound to buffers once, and the iterations are then only launches,
//! made by the backend in its own loop (`execute_loop`, one call).
//!
//! `Compiled::run` builds arrays, allocates outputs and frees intermediates
//! on every call; a loop of 1,000 small steps spent almost all its time
//! there. Here every intermediate keeps one buffer for the whole loop, and
//! the carried outputs alternate between two buffer sets (iteration `k`
//! reads set `k - 1` and writes set `k`), so no buffer is written while an
//! earlier launch of the same iteration may still read it.

use super::{Compiled, Step};
use crate::array::Array;
use crate::device::{Buffer, Concrete, Device};
use crate::error::Result;
use crate::trace::jaxpr::Atom;
use oxjax_abi::{BufferId, Kernel, Launch};
use std::sync::Arc;

impl Compiled {
    /// Runs the program `n` times. `feed` pairs an output with the input it
    /// becomes on the next iteration (its carry); the other inputs stay
    /// fixed. Returns the fed outputs of the last iteration, in `feed`'s
    /// order, or `None` when the program cannot be bound this way (an eager
    /// step; a fed output that is not a kernel's own output, such as an
    /// input passed through; profiling on; `n == 0`): the caller then loops
    /// over [`Compiled::run`].
    pub(crate) fn iterate(
        &self,
        args: &[Array],
        feed: &[(usize, usize)],
        n: usize,
        device: &Device,
    ) -> Result<Option<Vec<Array>>> {
        let j = &self.jaxpr;
        if n == 0 || crate::profile::enabled() {
            return Ok(None);
        }
        let mut written = vec![false; j.avals.len()];
        let mut launches = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let Step::Kernel {
                kernel,
                inputs,
                outputs,
            } = step
            else {
                return Ok(None);
            };
            for &v in outputs {
                written[v] = true;
            }
            launches.push((kernel, inputs, outputs));
        }
        let mut carried = Vec::with_capacity(feed.len());
        for &(o, _) in feed {
            match j.outs[o] {
                Atom::Var(v) if written[v] && !carried.contains(&v) => carried.push(v),
                _ => return Ok(None),
            }
        }
        let carried_in: Vec<usize> = feed.iter().map(|&(_, i)| j.invars[i]).collect();

        // Every variable bound to one buffer, held in `keep` for the loop.
        let mut keep: Vec<Arc<Buffer>> = Vec::new();
        let mut env: Vec<Option<BufferId>> = vec![None; j.avals.len()];
        let inputs = j.invars.iter().zip(args);
        for (&v, a) in inputs.chain(j.constvars.iter().map(|(v, a)| (v, a))) {
            let b = a
                .concrete()
                .expect("jit runs on concrete arrays")
                .dense_buffer()?;
            env[v] = Some(b.id);
            keep.push(b);
        }
        let alloc = |v: usize| device.alloc(j.avals[v].size() * j.avals[v].dtype.size());
        for &(_, _, outputs) in &launches {
            for &v in outputs.iter().filter(|v| !carried.contains(v)) {
                let b = alloc(v)?;
                env[v] = Some(b.id);
                keep.push(b);
            }
        }
        let sets = [
            carried
                .iter()
                .map(|&v| alloc(v))
                .collect::<Result<Vec<_>>>()?,
            carried
                .iter()
                .map(|&v| alloc(v))
                .collect::<Result<Vec<_>>>()?,
        ];
        let exes = launches
            .iter()
            .map(|(kernel, _, _)| device.compile(kernel))
            .collect::<Result<Vec<_>>>()?;

        // The launches of iteration `it` (kernels of size 0 have nothing to do).
        let running: Vec<usize> = (0..launches.len())
            .filter(|&s| launches[s].0.size > 0)
            .collect();
        let mut iteration = |it: usize| -> Vec<Launch> {
            for (&v, b) in carried.iter().zip(&sets[it % 2]) {
                env[v] = Some(b.id);
            }
            if it > 0 {
                for (&v, b) in carried_in.iter().zip(&sets[(it - 1) % 2]) {
                    env[v] = Some(b.id);
                }
            }
            let ids = |vars: &[usize]| vars.iter().map(|&v| env[v].expect("bound")).collect();
            running
                .iter()
                .map(|&s| Launch {
                    exe: exes[s],
                    inputs: ids(launches[s].1),
                    outputs: ids(launches[s].2),
                })
                .collect()
        };
        // Iteration 0 reads the arguments; from then on the body repeats
        // every two iterations, which the backend runs as one loop.
        let mut kernels: Vec<&Kernel> = running.iter().map(|&s| launches[s].0).collect();
        let per = kernels.len() as u64;
        device.launch_loop(&kernels, &iteration(0), per)?;
        if n > 1 {
            let mut body = iteration(1);
            body.extend(iteration(2));
            kernels.extend_from_within(..);
            device.launch_loop(&kernels, &body, (n as u64 - 1) * per)?;
        }
        let last = &sets[(n - 1) % 2];
        Ok(Some(
            carried
                .iter()
                .zip(last)
                .map(|(&v, b)| {
                    let aval = &j.avals[v];
                    Concrete::from_dense(b.clone(), &aval.shape, aval.dtype, device.clone()).into()
                })
                .collect(),
        ))
    }
}
