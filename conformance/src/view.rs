//! Shapes, broadcast partners and view chains, and the index arithmetic
//! they become inside a kernel.
//!
//! A view chain maps the logical multi-index of an operand to an element of
//! a contiguous base buffer, one [`ViewStep`] at a time (outermost first):
//! transpose, flip, strided slice (negative steps included), pad (masked),
//! broadcast (stride 0) and reshape. Chains are generated backwards from
//! the logical shape with `prop_flat_map`, so every generated chain is
//! valid by construction and shrinks to a shorter one.

use oxjax_abi::{DType, KernelBuilder, Op, Scalar, Val};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// One movement step: `outer` is the shape seen by the consumer, `inner`
/// the shape of what it reads from (the next step, or the base buffer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewStep {
    pub op: ViewOp,
    pub outer: Vec<usize>,
    pub inner: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ViewOp {
    /// Outer axis `i` is inner axis `perm[i]`.
    Transpose { perm: Vec<usize> },
    /// Reversed axes.
    Flip { axes: Vec<bool> },
    /// `inner = start + outer * step` per axis.
    Slice { start: Vec<i64>, step: Vec<i64> },
    /// `inner = outer - lo`; outside `0..inner` the element is the fill (zero).
    Pad { lo: Vec<usize> },
    /// Axes where the inner dim is 1 (read at index 0).
    Broadcast { axes: Vec<bool> },
    /// Row-major reinterpretation as `inner`.
    Reshape,
}

impl std::fmt::Display for ViewStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.op {
            ViewOp::Transpose { perm } => write!(f, "transpose{perm:?}"),
            ViewOp::Flip { axes } => write!(f, "flip{axes:?}"),
            ViewOp::Slice { start, step } => write!(f, "slice(start={start:?}, step={step:?})"),
            ViewOp::Pad { lo } => write!(f, "pad(lo={lo:?}, {:?} -> {:?})", self.inner, self.outer),
            ViewOp::Broadcast { axes } => write!(f, "broadcast{axes:?}"),
            ViewOp::Reshape => write!(f, "reshape {:?} -> {:?}", self.inner, self.outer),
        }
    }
}

/// Shapes of rank 0–4 with dims 0 and 1 included.
pub fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![1 => Just(0usize), 2 => Just(1usize), 6 => 2usize..5],
        0..=4,
    )
}

/// A shape that broadcasts to `s`: a suffix of it with some dims set to 1.
pub fn partner(s: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let n = s.len();
    (0..=n, prop::collection::vec(any::<bool>(), n)).prop_map(move |(drop, ones)| {
        s[drop..]
            .iter()
            .zip(&ones[drop..])
            .map(|(&d, &one)| if one { 1 } else { d })
            .collect()
    })
}

/// One step whose outer shape is `outer`.
fn step(outer: Vec<usize>) -> BoxedStrategy<ViewStep> {
    let r = outer.len();
    let o = outer.clone();
    let transpose = Just((0..r).collect::<Vec<usize>>())
        .prop_shuffle()
        .prop_map(move |perm| {
            let mut inner = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inner[p] = o[i];
            }
            ViewStep {
                op: ViewOp::Transpose { perm },
                outer: o.clone(),
                inner,
            }
        });
    let o = outer.clone();
    let flip = prop::collection::vec(any::<bool>(), r).prop_map(move |axes| ViewStep {
        op: ViewOp::Flip { axes },
        outer: o.clone(),
        inner: o.clone(),
    });
    let o = outer.clone();
    let slice = prop::collection::vec(
        (
            prop::sample::select(vec![1i64, 2, 3, -1, -2]),
            0i64..2,
            0i64..2,
        ),
        r,
    )
    .prop_map(move |axes| {
        let (mut start, mut step, mut inner) = (vec![], vec![], vec![]);
        for (&d, (s, a, e)) in o.iter().zip(axes) {
            let d = d as i64;
            let n = if d == 0 {
                a + e
            } else {
                a + (d - 1) * s.abs() + 1 + e
            };
            start.push(if s > 0 { a } else { n - 1 - a });
            step.push(s);
            inner.push(n as usize);
        }
        ViewStep {
            op: ViewOp::Slice { start, step },
            outer: o.clone(),
            inner,
        }
    });
    let o = outer.clone();
    let pad = prop::collection::vec((0usize..3, 0usize..3), r).prop_map(move |axes| {
        let (mut lo, mut inner) = (vec![], vec![]);
        for (&d, (x, y)) in o.iter().zip(axes) {
            let l = x.min(d);
            let h = y.min(d - l);
            lo.push(l);
            inner.push(d - l - h);
        }
        ViewStep {
            op: ViewOp::Pad { lo },
            outer: o.clone(),
            inner,
        }
    });
    let o = outer.clone();
    let broadcast = prop::collection::vec(any::<bool>(), r).prop_map(move |axes| ViewStep {
        inner: o
            .iter()
            .zip(&axes)
            .map(|(&d, &b)| if b { 1 } else { d })
            .collect(),
        op: ViewOp::Broadcast { axes },
        outer: o.clone(),
    });
    let o = outer;
    let reshape = (0usize..3, 0usize..5).prop_map(move |(kind, p)| {
        let r = o.len();
        let inner: Vec<usize> = match kind {
            1 if r < 4 => {
                let mut s = o.clone();
                s.insert(p % (r + 1), 1);
                s
            }
            2 if r >= 2 => {
                let at = p % (r - 1);
                let mut s = o.clone();
                let merged = s[at] * s[at + 1];
                s.splice(at..at + 2, [merged]);
                s
            }
            _ => vec![o.iter().product()],
        };
        ViewStep {
            op: ViewOp::Reshape,
            outer: o.clone(),
            inner,
        }
    });
    prop_oneof![
        transpose.boxed(),
        flip.boxed(),
        slice.boxed(),
        pad.boxed(),
        broadcast.boxed(),
        reshape.boxed(),
    ]
    .boxed()
}

/// A chain of up to `depth` steps whose outermost shape is `shape`.
pub fn chain(shape: Vec<usize>, depth: u32) -> BoxedStrategy<Vec<ViewStep>> {
    if depth == 0 {
        return Just(vec![]).boxed();
    }
    prop_oneof![
        1 => Just(vec![]),
        2 => step(shape).prop_flat_map(move |s| {
            chain(s.inner.clone(), depth - 1).prop_map(move |mut rest| {
                rest.insert(0, s.clone());
                rest
            })
        }),
    ]
    .boxed()
}

/// The base (contiguous buffer) shape of a chain over `shape`.
pub fn base_shape<'a>(shape: &'a [usize], steps: &'a [ViewStep]) -> &'a [usize] {
    steps.last().map_or(shape, |s| &s.inner)
}

/// Index-arithmetic helpers over a [`KernelBuilder`] that fold the trivial
/// cases, so shrunk kernels read well.
pub struct Ix<'a>(pub &'a mut KernelBuilder);

impl Ix<'_> {
    pub fn c(&mut self, v: i64) -> Val {
        self.0.i32(v as i32)
    }
    fn konst(&self, v: Val) -> Option<i64> {
        match self.0.constant_value(v) {
            Some(Scalar::I32(x)) => Some(x as i64),
            _ => None,
        }
    }
    pub fn add(&mut self, a: Val, b: Val) -> Val {
        match (self.konst(a), self.konst(b)) {
            (Some(x), Some(y)) => self.c(x + y),
            (Some(0), _) => b,
            (_, Some(0)) => a,
            _ => self.0.op(Op::ADD, &[a, b]),
        }
    }
    pub fn addc(&mut self, a: Val, c: i64) -> Val {
        let c = self.c(c);
        self.add(a, c)
    }
    pub fn mulc(&mut self, a: Val, c: i64) -> Val {
        match self.konst(a) {
            Some(x) => self.c(x * c),
            None if c == 1 => a,
            None if c == 0 => self.c(0),
            None => {
                let c = self.c(c);
                self.0.op(Op::MUL, &[a, c])
            }
        }
    }
    pub fn divc(&mut self, a: Val, c: i64) -> Val {
        if c == 1 {
            return a;
        }
        let c = self.c(c);
        self.0.op(Op::IDIV, &[a, c])
    }
    pub fn remc(&mut self, a: Val, c: i64) -> Val {
        if c == 1 {
            return self.c(0);
        }
        let c = self.c(c);
        self.0.op(Op::REM, &[a, c])
    }
    pub fn and(&mut self, a: Option<Val>, b: Val) -> Option<Val> {
        Some(match a {
            None => b,
            Some(a) => self.0.op(Op::AND, &[a, b]),
        })
    }

    /// Row-major strides of `shape`.
    pub fn strides(shape: &[usize]) -> Vec<i64> {
        let mut s = vec![1i64; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * shape[i + 1] as i64;
        }
        s
    }

    /// The multi-index of a flat row-major index over `shape`.
    pub fn unravel(&mut self, flat: Val, shape: &[usize]) -> Vec<Val> {
        let strides = Self::strides(shape);
        (0..shape.len())
            .map(|i| {
                if shape[i] == 1 {
                    return self.c(0);
                }
                let q = self.divc(flat, strides[i]);
                if i == 0 {
                    q
                } else {
                    self.remc(q, shape[i] as i64)
                }
            })
            .collect()
    }

    /// The flat row-major index of a multi-index over `shape`.
    pub fn ravel(&mut self, idx: &[Val], shape: &[usize]) -> Val {
        let strides = Self::strides(shape);
        let mut flat = self.c(0);
        for (i, &v) in idx.iter().enumerate() {
            if shape[i] == 1 {
                continue;
            }
            let t = self.mulc(v, strides[i]);
            flat = self.add(flat, t);
        }
        flat
    }

    /// Maps the logical multi-index `idx` through `steps` to a flat index
    /// into the base buffer, with the validity mask of any padding.
    pub fn through(&mut self, steps: &[ViewStep], mut idx: Vec<Val>) -> (Vec<Val>, Option<Val>) {
        let mut valid = None;
        for s in steps {
            idx = match &s.op {
                ViewOp::Transpose { perm } => {
                    let mut inner = idx.clone();
                    for (i, &p) in perm.iter().enumerate() {
                        inner[p] = idx[i];
                    }
                    inner
                }
                ViewOp::Flip { axes } => idx
                    .iter()
                    .zip(axes)
                    .zip(&s.outer)
                    .map(|((&v, &f), &d)| {
                        if f && d > 1 {
                            let neg = self.mulc(v, -1);
                            self.addc(neg, d as i64 - 1)
                        } else {
                            v
                        }
                    })
                    .collect(),
                ViewOp::Slice { start, step } => idx
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let t = self.mulc(v, step[i]);
                        self.addc(t, start[i])
                    })
                    .collect(),
                ViewOp::Pad { lo } => {
                    let mut inner = vec![];
                    for (i, &v) in idx.iter().enumerate() {
                        let (l, n) = (lo[i] as i64, s.inner[i] as i64);
                        let w = self.addc(v, -l);
                        if l > 0 || n < s.outer[i] as i64 {
                            let zero = self.c(0);
                            let ge = self.0.op(Op::GE, &[w, zero]);
                            let nn = self.c(n);
                            let lt = self.0.op(Op::LT, &[w, nn]);
                            let ok = self.0.op(Op::AND, &[ge, lt]);
                            valid = self.and(valid, ok);
                        }
                        inner.push(w);
                    }
                    inner
                }
                ViewOp::Broadcast { axes } => idx
                    .iter()
                    .zip(axes)
                    .map(|(&v, &b)| if b { self.c(0) } else { v })
                    .collect(),
                ViewOp::Reshape => {
                    let flat = self.ravel(&idx, &s.outer);
                    self.unravel(flat, &s.inner)
                }
            };
        }
        (idx, valid)
    }

    /// Loads operand `input` (logical shape `shape`, chain `steps`) at the
    /// logical multi-index `idx`; padded elements read zero.
    pub fn load(
        &mut self,
        input: u32,
        dtype: DType,
        shape: &[usize],
        steps: &[ViewStep],
        idx: Vec<Val>,
    ) -> Val {
        let (inner, valid) = self.through(steps, idx);
        let flat = self.ravel(&inner, base_shape(shape, steps));
        let v = self.0.load(input, flat);
        match valid {
            None => v,
            Some(ok) => {
                let zero = self.0.constant(Scalar::zero(dtype));
                self.0.select(ok, v, zero)
            }
        }
    }
}
