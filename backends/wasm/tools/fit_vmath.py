#!/usr/bin/env python3
"""Minimax polynomial coefficients of the f32x4 transcendentals
(backends/wasm/src/vmath.rs: EXP_Q, SIN_S, COS_C, ERF_P, ERF_Q, TANH_T, LOG_P,
and the f64 ones ATAN_A, SIN_D, COS_D, ERFC_R).

Each fit minimises the largest *relative* error of the whole function
(not of the fitted remainder) over its reduced interval, as a linear
program on a dense grid, and prints the coefficients rounded to f32 with
the achieved error. Run: python3 backends/wasm/tools/fit_vmath.py
(needs numpy, scipy, mpmath). The exhaustive check of the kernels that
use them is `cargo run --release -p oxjax-backend-wasm --example
exhaustive -- sin 1e5`.
"""
import mpmath as mp
import numpy as np
from scipy.optimize import linprog

mp.mp.dps = 30
SCALE = 1e9  # errors are ~1e-9: keep them well above the solver's tolerance


def minimax(basis, target, weight, scale=SCALE):
    """min over c of max |weight * (basis @ c - target)|."""
    n, k = basis.shape
    a = basis * (weight * scale)[:, None]
    b = target * weight * scale
    ones = np.ones((n, 1))
    res = linprog(
        np.r_[np.zeros(k), 1.0],
        A_ub=np.vstack([np.hstack([a, -ones]), np.hstack([-a, -ones])]),
        b_ub=np.r_[b, -b],
        bounds=[(None, None)] * k + [(0, None)],
        method="highs",
    )
    assert res.status == 0, res.message
    return res.x[:k], res.x[k] / scale


def report(name, coeffs, err):
    print(f"{name}: [{', '.join(repr(float(np.float32(c))) for c in coeffs)}]  max rel err {err:.3g}")


# exp r = 1 + r + r^2 Q(r) on |r| <= ln2/2 (a little more for the rounding of k)
h = float(mp.log(2) / 2) + 1e-3
r = np.r_[np.linspace(-h, -1e-6, 3000), np.linspace(1e-6, h, 3000)]
q = np.array([float((mp.exp(v) - 1 - v) / v**2) for v in map(mp.mpf, r)])
report("EXP_Q", *minimax(np.stack([r**i for i in range(5)], 1), q, r * r / np.exp(r)))

# sin r = r + r z S(z) and cos r = 1 - z/2 + z^2 C(z), z = r^2, |r| <= pi/4
d = np.sqrt(np.linspace(1e-8, (np.pi / 4 + 1e-2) ** 2, 3000))
z = d * d
basis = np.stack([z**i for i in range(3)], 1)
s = np.array([float((mp.sin(v) - v) / v**3) for v in map(mp.mpf, d)])
report("SIN_S", *minimax(basis, s, d * z / np.sin(d)))
c = np.array([float((mp.cos(v) - 1 + v**2 / 2) / v**4) for v in map(mp.mpf, d)])
report("COS_C", *minimax(basis, c, z * z / np.cos(d)))

# erf x = x P(x^2) on |x| < 1 (relative error of erf)
d = np.sqrt(np.linspace(1e-8, 1.0, 4000))
z = d * d
t = np.array([float(mp.erf(v) / v) for v in map(mp.mpf, d)])
report("ERF_P", *minimax(np.stack([z**i for i in range(7)], 1), t, 1 / t, 1e7))

# erf x = 1 - exp(Q(x - 2.5)) on [1, 4]: Q fits ln erfc, weighted by
# erfc / erf so that the error is erf's relative error
x = np.linspace(1.0, 4.0, 4000)
q = np.array([float(mp.log(mp.erfc(v))) for v in map(mp.mpf, x)])
w = np.array([float(mp.erfc(v) / mp.erf(v)) for v in map(mp.mpf, x)])
report("ERF_Q", *minimax(np.stack([(x - 2.5) ** i for i in range(8)], 1), q, w, 1e7))

# tanh x = x + x z T(z), z = x^2, on |x| <= 0.625 (relative error of tanh)
d = np.sqrt(np.linspace(1e-8, 0.625**2, 3000))
z = d * d
t = np.array([float((mp.tanh(v) - v) / v**3) for v in map(mp.mpf, d)])
report("TANH_T", *minimax(np.stack([z**i for i in range(5)], 1), t, d * z / np.tanh(d)))

# ln(1 + f) = f - f^2/2 + f^3 P(f) on [sqrt(1/2) - 1, sqrt(2) - 1] (a little
# more), relative error of ln(1 + f)
lo, hi = float(mp.sqrt(0.5)) - 1 - 1e-4, float(mp.sqrt(2)) - 1 + 1e-4
f = np.r_[np.linspace(lo, -1e-6, 3000), np.linspace(1e-6, hi, 3000)]
t = np.array([float((mp.log1p(v) - v + v * v / 2) / v**3) for v in map(mp.mpf, f)])
lg = np.array([float(mp.log1p(v)) for v in map(mp.mpf, f)])
report("LOG_P", *minimax(np.stack([f**i for i in range(8)], 1), t, f**3 / lg))


def report64(name, coeffs, err):
    print(f"{name}: [{', '.join(repr(float(c)) for c in coeffs)}]  max rel err {err:.3g}")


# f64 polynomials of f32 grade (tan, atan, asin, acos, atan2 compute in f64x2)
# atan t = t + t z A(z) on |t| <= tan(pi/8)
h = float(mp.tan(mp.pi / 8)) + 1e-6
d = np.sqrt(np.linspace(1e-10, h * h, 4000))
z = d * d
t = np.array([float((mp.atan(v) - v) / v**3) for v in map(mp.mpf, d)])
report64("ATAN_A", *minimax(np.stack([z**i for i in range(6)], 1), t, d * z / np.arctan(d), 1e13))
# sin r = r + r z S(z), cos r = 1 + z C(z) on |r| <= pi/4
h = float(mp.pi / 4) + 1e-6
d = np.sqrt(np.linspace(1e-10, h * h, 4000))
z = d * d
s = np.array([float((mp.sin(v) - v) / v**3) for v in map(mp.mpf, d)])
report64("SIN_D", *minimax(np.stack([z**i for i in range(4)], 1), s, d * z / np.sin(d), 1e11))
c = np.array([float((mp.cos(v) - 1) / v**2) for v in map(mp.mpf, d)])
report64("COS_D", *minimax(np.stack([z**i for i in range(4)], 1), c, z / np.cos(d), 1e10))
# erfc x = exp(-x^2) R(u) on [0.5, 10.1], u = (1/(1+x) - C) / H in [-1, 1]
tmax, tmin = 1 / 1.5, 1 / 11.1
C, H = (tmax + tmin) / 2, (tmax - tmin) / 2
x = 1 / np.linspace(tmin, tmax, 4000) - 1
u = (1 / (1 + x) - C) / H
with mp.workdps(40):
    g = np.array([float(mp.erfc(v) * mp.exp(v * v)) for v in map(mp.mpf, x)])
report64("ERFC_R", *minimax(np.stack([u**i for i in range(13)], 1), g, 1 / g, 1e10))
