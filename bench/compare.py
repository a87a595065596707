#!/usr/bin/env python3
"""The JAX (CPU) and NumPy side of `cargo xtask bench --compare`.

The Rust harness (bench/src/main.rs) runs first with `--inputs DIR --json
DIR/oxjax.json`: it writes every workload's inputs as `DIR/<bench>.<name>.npy`
and its own median times. This script loads the same inputs, times the same
workloads jitted in JAX (`block_until_ready`) and, where NumPy has the op, in
NumPy, and prints one table of medians with the ratio oxjax / JAX.

    python3 bench/compare.py --inputs DIR [--only A,B*] [--json FILE] [--quick]

Needs jax and numpy (xtask installs them into target/bench-venv); CI never
runs it.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


def load(d, bench, *names):
    return [np.load(os.path.join(d, f"{bench}.{n}.npy")) for n in names]


# As bench/src/main.rs: at least `runs` samples and this many seconds of them.
MIN_SAMPLING = 0.5


def median_ms(f, runs, budget):
    """Median ms of f() after a warm-up over at least `runs` runs and
    MIN_SAMPLING seconds; fewer runs once `budget` seconds are spent; None
    when the warm-up alone exceeds the budget."""
    t = time.perf_counter()
    f()
    if time.perf_counter() - t > budget:
        return None
    start, samples = time.perf_counter(), []
    while (len(samples) < runs or time.perf_counter() - start < MIN_SAMPLING) and (
        not samples or time.perf_counter() - start < budget
    ):
        t = time.perf_counter()
        f()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e3


def workloads(jax, jnp, d):
    """name -> (jax thunk, numpy thunk or None), inputs loaded from d."""
    lax = jax.lax
    ready = jax.block_until_ready
    w = {}

    def put(*arrays):
        return [jnp.asarray(a) for a in arrays]

    def add(name, make):
        w[name] = make

    for n in (256, 512, 1024, 2048):
        name = f"matmul_f32_{n}"

        def make(name=name):
            a, b = load(d, name, "a", "b")
            ja, jb = put(a, b)
            f = jax.jit(jnp.matmul)
            return (lambda: ready(f(ja, jb))), (lambda: a @ b)

        add(name, make)

    def chain_np(x):
        return np.sqrt(np.exp(np.sin(x) * 2 + 1) + x * x)

    def make_chain():
        (x,) = load(d, "chain_4m", "x")
        (jx,) = put(x)
        f = jax.jit(lambda x: jnp.sqrt(jnp.exp(jnp.sin(x) * 2 + 1) + x * x))
        return (lambda: ready(f(jx))), (lambda: chain_np(x))

    add("chain_4m", make_chain)

    def make_special():
        (x,) = load(d, "special_chain_4m", "x")
        (jx,) = put(x)
        f = jax.jit(lambda x: jax.scipy.special.erf(jnp.tanh(x) * jnp.log1p(x * x)))
        return (lambda: ready(f(jx))), None  # NumPy has no erf

    add("special_chain_4m", make_special)

    def make_sum():
        (x,) = load(d, "sum_f32_16m", "x")
        (jx,) = put(x)
        f = jax.jit(jnp.sum)
        return (lambda: ready(f(jx))), (lambda: x.sum())

    add("sum_f32_16m", make_sum)

    def softmax_np(s):
        e = np.exp(s - s.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    def make_softmax():
        (s,) = load(d, "softmax_4096x1024", "x")
        (js,) = put(s)
        f = jax.jit(lambda s: jax.nn.softmax(s, axis=-1))
        return (lambda: ready(f(js))), (lambda: softmax_np(s))

    add("softmax_4096x1024", make_softmax)

    def make_fori():
        (v,) = load(d, "fori_loop_1000", "v")
        (jv,) = put(v)

        def body(i, v):
            return v * 0.99 + jnp.sin(v) * 0.01 + i.astype(jnp.float32) * 1e-3

        f = jax.jit(lambda v: lax.fori_loop(0, 1000, body, v))

        def np_loop():
            u = v
            for i in range(1000):
                u = u * np.float32(0.99) + np.sin(u) * np.float32(0.01) + np.float32(i * 1e-3)
            return u

        return (lambda: ready(f(jv))), np_loop

    add("fori_loop_1000", make_fori)

    def make_infer():
        ps = load(d, "mlp_infer_b1", "w1", "b1", "w2", "b2", "w3", "b3")
        (x,) = load(d, "mlp_infer_b1", "x")
        jps, (jx,) = put(*ps), put(x)

        def fwd(p, x, m=jnp):
            h = m.maximum(x @ p[0] + p[1], 0)
            h = m.maximum(h @ p[2] + p[3], 0)
            return h @ p[4] + p[5]

        f = jax.jit(fwd)
        return (lambda: ready(f(jps, jx))), (lambda: fwd(ps, x, np))

    add("mlp_infer_b1", make_infer)

    def make_train():
        w1, b1, w2, b2, x, y = load(d, "mlp_train_step", "w1", "b1", "w2", "b2", "x", "y")
        params = put(w1, b1, w2, b2)
        jx, jy = put(x, y)

        def loss(p, x, y):
            h = jnp.maximum(x @ p[0] + p[1], 0)
            logits = h @ p[2] + p[3]
            return -jnp.sum(jax.nn.log_softmax(logits) * y) / 128.0

        @jax.jit
        def step(p, x, y):
            l, g = jax.value_and_grad(loss)(p, x, y)
            return l, [a - 0.01 * b for a, b in zip(p, g)]

        return (lambda: ready(step(params, jx, jy))), None

    add("mlp_train_step", make_train)

    def make_conv():
        x, k = load(d, "conv_fwd_bwd", "x", "k")
        jx, jk = put(x, k)

        def loss(x, k):
            y = lax.conv_general_dilated(x, k, (1, 1), "SAME")
            return jnp.sum(y * y)

        f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
        return (lambda: ready(f(jx, jk))), None

    add("conv_fwd_bwd", make_conv)

    def linalg(name, jf, nf, *names):
        def make():
            args = load(d, name, *names)
            jargs = put(*args)
            f = jax.jit(jf)
            return (lambda: ready(f(*jargs))), (lambda: nf(*args))

        add(name, make)

    for n in (128, 512):
        linalg(f"cholesky_{n}", jnp.linalg.cholesky, np.linalg.cholesky, "a")
        linalg(f"solve_{n}", jnp.linalg.solve, np.linalg.solve, "a", "b")
        linalg(f"eigh_{n}", jnp.linalg.eigh, np.linalg.eigh, "a")
        linalg(
            f"svd_{n}",
            lambda a: jnp.linalg.svd(a, full_matrices=False),
            lambda a: np.linalg.svd(a, full_matrices=False),
            "a",
        )
    linalg("cholesky_b64x32", jnp.linalg.cholesky, np.linalg.cholesky, "a")
    linalg("solve_b64x32", jnp.linalg.solve, np.linalg.solve, "a", "b")
    linalg("eigh_b64x32", jnp.linalg.eigh, np.linalg.eigh, "a")
    linalg(
        "svd_b64x32",
        lambda a: jnp.linalg.svd(a, full_matrices=False),
        lambda a: np.linalg.svd(a, full_matrices=False),
        "a",
    )

    def make_fft():
        re, im = load(d, "fft_65536", "re", "im")
        z = (re + 1j * im).astype(np.complex64)
        (jz,) = put(z)
        f = jax.jit(jnp.fft.fft)
        return (lambda: ready(f(jz))), (lambda: np.fft.fft(z))

    add("fft_65536", make_fft)
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", required=True, help="the Rust harness's --inputs DIR")
    ap.add_argument("--oxjax", help="the Rust harness's JSON (default DIR/oxjax.json)")
    ap.add_argument("--only", default="", help="A,B* (B*: a prefix)")
    ap.add_argument("--json", help="write the combined rows here")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import jax.numpy as jnp

    only = [w for w in a.only.split(",") if w]

    def on(name):
        return not only or any(name == w or (w.endswith("*") and name.startswith(w[:-1])) for w in only)

    with open(a.oxjax or os.path.join(a.inputs, "oxjax.json")) as f:
        ox_rows = json.load(f)
    ox = {r["bench"]: r for r in ox_rows}
    backend = ox_rows[0]["backend"] if ox_rows else "?"
    runs, budget = (3, 2.0) if a.quick else (7, 10.0)
    print(
        f"JAX {jax.__version__} on {jax.devices()[0].device_kind} ({jax.default_backend()}), "
        f"NumPy {np.__version__}; oxjax on '{backend}'",
        file=sys.stderr,
    )
    rows = []
    for name, make in workloads(jax, jnp, a.inputs).items():
        if not on(name) or name not in ox:
            continue
        jf, nf = make()
        j = median_ms(jf, runs, budget)
        n = median_ms(nf, runs, budget) if nf else None
        o = ox[name]["ms"]
        rows.append(
            {
                "bench": name,
                "oxjax_ms": o,
                "jax_ms": j,
                "numpy_ms": n,
                "ratio": o / j if j else None,
                "backend": backend,
            }
        )
        print(f"  {name}: oxjax {o:.3f} ms, jax {j if j is None else round(j, 3)} ms", file=sys.stderr)

    def fmt(v, spec=".3f"):
        return "—" if v is None else format(v, spec)

    print(f"| bench | oxjax {backend} ms | JAX {jax.__version__} cpu ms | NumPy ms | oxjax / JAX |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['bench']} | {fmt(r['oxjax_ms'])} | {fmt(r['jax_ms'])} | {fmt(r['numpy_ms'])} "
            f"| {fmt(r['ratio'], '.2f')} |"
        )
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"jax": jax.__version__, "numpy": np.__version__, "rows": rows}, f, indent=1)
        print(f"wrote {a.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
