//! Index simplification: the clean form of a kernel's load indices.
//!
//! Views and fused movement ops build an element's index by splitting
//! `gidx` into coordinates (`rem`/`idiv` by each dimension) and summing
//! them back with strides. For a contiguous read that is `gidx` itself,
//! but written out it costs every backend several integer divisions per
//! element (and keeps a vector backend from seeing consecutive lanes).
//! [`Kernel::simplified`] rewrites each load index into a canonical sum
//! `Σ c · ((b / m) % n) + k` over *digits* of base values `b` and merges
//! digits that recompose (`(b % n) + n · (b / n) = b`), using value ranges
//! (`gidx < size`, `ridx < rsize`) to drop divisions and remainders that
//! cannot change their operand. Every rewrite is exact in the IR's wrapping
//! i32 arithmetic, so the kernel computes the same values; dead nodes are
//! pruned afterwards.

use crate::{DType, FastMap, Kernel, NO_ARG, Node, Op, Phase, Reduction};

/// "No modulus" in a digit.
pub(crate) const NONE: i64 = i64::MAX;

/// The digit `(base / div) % modulo` of an earlier node (`modulo` may be
/// [`NONE`]). A digit with `div > 1` or a modulus is only formed from a
/// base known to be non-negative, where truncating division is floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Digit {
    pub base: u32,
    pub div: i64,
    pub modulo: i64,
}

/// `Σ coef · digit + konst` in wrapping i32 arithmetic.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lin {
    pub terms: Vec<(Digit, i32)>,
    pub konst: i32,
}

impl Lin {
    fn digit(d: Digit) -> Lin {
        Lin {
            terms: vec![(d, 1)],
            konst: 0,
        }
    }
    fn constant(k: i32) -> Lin {
        Lin {
            terms: Vec::new(),
            konst: k,
        }
    }
    fn scaled(&self, c: i32) -> Lin {
        Lin {
            terms: self
                .terms
                .iter()
                .map(|&(d, k)| (d, k.wrapping_mul(c)))
                .collect(),
            konst: self.konst.wrapping_mul(c),
        }
    }
    fn plus(&self, other: &Lin) -> Lin {
        let mut terms = self.terms.clone();
        terms.extend_from_slice(&other.terms);
        Lin {
            terms,
            konst: self.konst.wrapping_add(other.konst),
        }
    }
    /// The single digit this form is, if it is one with coefficient 1.
    fn as_digit(&self) -> Option<Digit> {
        match self.terms[..] {
            [(d, 1)] if self.konst == 0 => Some(d),
            _ => None,
        }
    }
}

/// Inclusive value ranges of the i32 nodes (`None`: unknown or may wrap).
fn ranges(k: &Kernel) -> Vec<Option<(i64, i64)>> {
    let mut r: Vec<Option<(i64, i64)>> = Vec::with_capacity(k.nodes.len());
    let fits = |lo: i64, hi: i64| {
        (lo >= i32::MIN as i64 && hi <= i32::MAX as i64 && lo <= hi).then_some((lo, hi))
    };
    for (i, n) in k.nodes.iter().enumerate() {
        let a = |s: usize| r[n.args[s] as usize];
        let v = if n.dtype != DType::I32 {
            None
        } else {
            match n.op {
                Op::CONST => {
                    let c = n.imm as u32 as i32 as i64;
                    Some((c, c))
                }
                Op::GIDX => fits(0, k.size as i64 - 1),
                Op::RIDX => fits(0, k.rsize as i64 - 1),
                Op::ADD => a(0).zip(a(1)).and_then(|(x, y)| fits(x.0 + y.0, x.1 + y.1)),
                Op::SUB => a(0).zip(a(1)).and_then(|(x, y)| fits(x.0 - y.1, x.1 - y.0)),
                Op::MUL => a(0).zip(a(1)).and_then(|(x, y)| {
                    let p = [x.0 * y.0, x.0 * y.1, x.1 * y.0, x.1 * y.1];
                    fits(*p.iter().min()?, *p.iter().max()?)
                }),
                Op::MIN => a(0).zip(a(1)).map(|(x, y)| (x.0.min(y.0), x.1.min(y.1))),
                Op::MAX => a(0).zip(a(1)).map(|(x, y)| (x.0.max(y.0), x.1.max(y.1))),
                Op::IDIV | Op::REM => match (a(0), a(1)) {
                    (Some(x), Some((d, d2))) if x.0 >= 0 && d == d2 && d > 0 => {
                        Some(if n.op == Op::IDIV {
                            (x.0 / d, x.1 / d)
                        } else if x.1 < d {
                            x
                        } else {
                            (0, d - 1)
                        })
                    }
                    _ => None,
                },
                Op::SELECT => a(1).zip(a(2)).map(|(x, y)| (x.0.min(y.0), x.1.max(y.1))),
                _ => None,
            }
        };
        debug_assert_eq!(r.len(), i);
        r.push(v);
    }
    r
}

/// Builds the linear forms of the i32 nodes, memoised.
pub(crate) struct Linearize<'a> {
    k: &'a Kernel,
    range: Vec<Option<(i64, i64)>>,
    memo: Vec<Option<Lin>>,
}

impl<'a> Linearize<'a> {
    pub(crate) fn new(k: &'a Kernel) -> Self {
        Linearize {
            k,
            range: ranges(k),
            memo: vec![None; k.nodes.len()],
        }
    }

    /// The normalized linear form of i32 node `i`.
    pub(crate) fn form(&mut self, i: u32) -> Lin {
        let l = self.lin(i);
        self.normalize(l)
    }

    fn nonneg(&self, i: u32) -> bool {
        self.range[i as usize].is_some_and(|r| r.0 >= 0)
    }

    fn positive_const(&self, i: u32) -> Option<i64> {
        let n = &self.k.nodes[i as usize];
        let c = n.imm as u32 as i32 as i64;
        (n.op == Op::CONST && c > 0).then_some(c)
    }

    fn lin(&mut self, i: u32) -> Lin {
        if let Some(l) = &self.memo[i as usize] {
            return l.clone();
        }
        let l = self.compute(i);
        self.memo[i as usize] = Some(l.clone());
        l
    }

    fn compute(&mut self, i: u32) -> Lin {
        let n = self.k.nodes[i as usize];
        let opaque = Lin::digit(Digit {
            base: i,
            div: 1,
            modulo: NONE,
        });
        if n.dtype != DType::I32 {
            return opaque;
        }
        let (a, b) = (n.args[0], n.args[1]);
        match n.op {
            Op::CONST => Lin::constant(n.imm as u32 as i32),
            Op::ADD => self.lin(a).plus(&self.lin(b)),
            Op::SUB => self.lin(a).plus(&self.lin(b).scaled(-1)),
            Op::MUL => {
                let (x, y) = (self.lin(a), self.lin(b));
                if y.terms.is_empty() {
                    x.scaled(y.konst)
                } else if x.terms.is_empty() {
                    y.scaled(x.konst)
                } else {
                    opaque
                }
            }
            Op::IDIV | Op::REM => {
                let Some(d) = self.positive_const(b).filter(|_| self.nonneg(a)) else {
                    return opaque;
                };
                let x = self.lin(a);
                if x.terms.is_empty() {
                    let v = x.konst as i64;
                    return Lin::constant(if n.op == Op::IDIV { v / d } else { v % d } as i32);
                }
                let within = self.range[a as usize].is_some_and(|r| r.1 < d);
                if n.op == Op::REM && within {
                    return x; // x % d == x
                }
                if n.op == Op::IDIV && within {
                    return Lin::constant(0);
                }
                // A digit of a digit, or a new digit of `a`.
                let digit =
                    x.as_digit()
                        .and_then(|g| compose(g, n.op, d))
                        .unwrap_or(if n.op == Op::IDIV {
                            Digit {
                                base: a,
                                div: d,
                                modulo: NONE,
                            }
                        } else {
                            Digit {
                                base: a,
                                div: 1,
                                modulo: d,
                            }
                        });
                Lin::digit(digit)
            }
            _ => opaque,
        }
    }

    /// Merges digits that recompose and drops what ranges make trivial,
    /// until nothing changes.
    fn normalize(&self, mut l: Lin) -> Lin {
        loop {
            for (d, c) in l.terms.iter_mut() {
                let Some((lo, hi)) = self.range[d.base as usize] else {
                    continue;
                };
                if d.div > 1 || d.modulo != NONE {
                    debug_assert!(lo >= 0);
                    if hi < d.div {
                        *c = 0; // the digit is 0
                    } else if d.modulo != NONE && hi / d.div < d.modulo {
                        d.modulo = NONE;
                    }
                }
            }
            l.terms.sort();
            let mut merged: Vec<(Digit, i32)> = Vec::with_capacity(l.terms.len());
            for &(d, c) in &l.terms {
                match merged.last_mut() {
                    Some((p, pc)) if *p == d => *pc = pc.wrapping_add(c),
                    _ => merged.push((d, c)),
                }
            }
            merged.retain(|&(_, c)| c != 0);
            let mut changed = merged.len() != l.terms.len();
            // (b / m) % n · c  +  (b / (m n)) % k · c n  =  (b / m) % (n k) · c
            'find: for x in 0..merged.len() {
                let (lo, c) = merged[x];
                if lo.modulo == NONE {
                    continue;
                }
                let Some(div) = lo
                    .div
                    .checked_mul(lo.modulo)
                    .filter(|&v| v <= i32::MAX as i64)
                else {
                    continue;
                };
                for y in 0..merged.len() {
                    let (hi, hc) = merged[y];
                    if hi.base == lo.base && hi.div == div && hc == c.wrapping_mul(lo.modulo as i32)
                    {
                        // A modulus past i32 cannot bind an i32 base.
                        let modulo = match lo.modulo.checked_mul(hi.modulo) {
                            Some(m) if hi.modulo != NONE && m <= i32::MAX as i64 => m,
                            _ => NONE,
                        };
                        merged[x].0.modulo = modulo;
                        merged.remove(y);
                        changed = true;
                        break 'find;
                    }
                }
            }
            l.terms = merged;
            if !changed {
                return l;
            }
        }
    }
}

/// The digit `g` (of a non-negative base) divided or reduced by `d`, when
/// that is again one digit.
fn compose(g: Digit, op: Op, d: i64) -> Option<Digit> {
    if op == Op::IDIV {
        let div = g.div.checked_mul(d).filter(|&v| v <= i32::MAX as i64)?;
        match g.modulo {
            NONE => Some(Digit { div, ..g }),
            m if m % d == 0 => Some(Digit {
                div,
                modulo: m / d,
                ..g
            }),
            _ => None,
        }
    } else {
        match g.modulo {
            NONE => Some(Digit { modulo: d, ..g }),
            m if m % d == 0 => Some(Digit { modulo: d, ..g }),
            _ => None,
        }
    }
}

/// Appends nodes to a new arena, sharing identical ones.
struct Arena {
    nodes: Vec<Node>,
    memo: FastMap<Node, u32>,
}

impl Arena {
    fn push(&mut self, node: Node) -> u32 {
        if let Some(&id) = self.memo.get(&node) {
            return id;
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(node);
        self.memo.insert(node, id);
        id
    }
    fn i32_node(&mut self, op: Op, args: &[u32], imm: u64) -> u32 {
        let mut a = [NO_ARG; 4];
        a[..args.len()].copy_from_slice(args);
        self.push(Node {
            op,
            dtype: DType::I32,
            args: a,
            imm,
        })
    }
    fn konst(&mut self, v: i32) -> u32 {
        self.i32_node(Op::CONST, &[], v as u32 as u64)
    }
    /// Emits a normalized linear form over already mapped bases.
    fn emit(&mut self, l: &Lin, map: &[u32]) -> u32 {
        let mut acc: Option<u32> = None;
        for &(d, c) in &l.terms {
            let mut v = map[d.base as usize];
            if d.div > 1 {
                let k = self.konst(d.div as i32);
                v = self.i32_node(Op::IDIV, &[v, k], 0);
            }
            if d.modulo != NONE {
                let k = self.konst(d.modulo as i32);
                v = self.i32_node(Op::REM, &[v, k], 0);
            }
            acc = Some(match (acc, c) {
                (None, 1) => v,
                (Some(s), 1) => self.i32_node(Op::ADD, &[s, v], 0),
                (Some(s), -1) => self.i32_node(Op::SUB, &[s, v], 0),
                (s, c) => {
                    let k = self.konst(c);
                    let t = self.i32_node(Op::MUL, &[v, k], 0);
                    match s {
                        None => t,
                        Some(s) => self.i32_node(Op::ADD, &[s, t], 0),
                    }
                }
            });
        }
        match (acc, l.konst) {
            (None, k) => self.konst(k),
            (Some(s), 0) => s,
            (Some(s), k) => {
                let k = self.konst(k);
                self.i32_node(Op::ADD, &[s, k], 0)
            }
        }
    }
}

impl Kernel {
    /// The same kernel with every load index in its simplest form (see the
    /// module docs) and dead nodes removed. The core hands backends this
    /// form on a cache miss; it computes the same values as `self`.
    pub fn simplified(&self) -> Kernel {
        if self.size == 0 {
            return self.clone();
        }
        let mut lin = Linearize::new(self);
        let mut arena = Arena {
            nodes: Vec::with_capacity(self.nodes.len()),
            memo: FastMap::default(),
        };
        let mut map = vec![NO_ARG; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            let mut node = *n;
            for a in node.args.iter_mut().filter(|a| **a != NO_ARG) {
                *a = map[*a as usize];
            }
            if n.op == Op::LOAD {
                node.args[0] = arena.emit(&lin.form(n.args[0]), &map);
            }
            map[i] = arena.push(node);
        }
        self.with_nodes(arena.nodes, &map).pruned()
    }

    /// The kernel without the nodes no output or reduction needs,
    /// renumbered (order kept).
    pub fn pruned(&self) -> Kernel {
        let phases = self.phases();
        let mut map = vec![NO_ARG; self.nodes.len()];
        let mut nodes = Vec::with_capacity(self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate() {
            if phases[i] == Phase::Dead {
                continue;
            }
            let mut n = *n;
            for a in n.args.iter_mut().filter(|a| **a != NO_ARG) {
                *a = map[*a as usize];
            }
            map[i] = nodes.len() as u32;
            nodes.push(n);
        }
        self.with_nodes(nodes, &map)
    }

    /// This kernel over a new arena, `map` taking each old node to its new
    /// index (reductions and outputs follow it).
    fn with_nodes(&self, nodes: Vec<Node>, map: &[u32]) -> Kernel {
        Kernel {
            inputs: self.inputs.clone(),
            nodes: nodes.into(),
            size: self.size,
            rsize: self.rsize,
            reductions: self
                .reductions
                .iter()
                .map(|r| Reduction {
                    op: r.op,
                    body: map[r.body as usize],
                })
                .collect(),
            outputs: self.outputs.iter().map(|&o| map[o as usize]).collect(),
        }
    }
}

/// Random index arithmetic for tests: `gidx`, `ridx`, then `steps` values
/// each combining two earlier ones by add, sub or mul, or one by mul,
/// floor-div or rem with a small constant (some zero or negative).
#[cfg(test)]
pub(crate) fn random_indices(
    b: &mut crate::KernelBuilder,
    steps: usize,
    next: &mut impl FnMut(u64) -> u64,
) -> Vec<crate::Val> {
    let mut vals = vec![b.gidx(), b.ridx()];
    for _ in 0..steps {
        let p = vals[next(vals.len() as u64) as usize];
        let q = vals[next(vals.len() as u64) as usize];
        let c = [1, 2, 3, 4, 7, 8, 16, 0, -1, -3][next(10) as usize];
        let c = b.constant(crate::Scalar::I32(c));
        let v = match next(6) {
            0 => b.op(Op::ADD, &[p, q]),
            1 => b.op(Op::SUB, &[p, q]),
            2 => b.op(Op::MUL, &[p, c]),
            3 => b.op(Op::IDIV, &[p, c]),
            4 => b.op(Op::REM, &[p, c]),
            _ => b.op(Op::MUL, &[p, q]),
        };
        vals.push(v);
    }
    vals
}

/// Every node's i32 value at (gidx, ridx) for tests, with the IR's wrapping
/// semantics (division by zero is -1, remainder by zero the dividend;
/// loads and other ops read 0).
#[cfg(test)]
pub(crate) fn index_values(k: &crate::Kernel, g: i32, r: i32) -> Vec<i32> {
    let mut v = vec![0i32; k.nodes.len()];
    for (i, n) in k.nodes.iter().enumerate() {
        let a = |s: usize| v[n.args[s] as usize];
        v[i] = match n.op {
            Op::CONST => n.imm as u32 as i32,
            Op::GIDX => g,
            Op::RIDX => r,
            Op::ADD => a(0).wrapping_add(a(1)),
            Op::SUB => a(0).wrapping_sub(a(1)),
            Op::MUL => a(0).wrapping_mul(a(1)),
            Op::IDIV => a(0).checked_div(a(1)).unwrap_or(-1),
            Op::REM => a(0).checked_rem(a(1)).unwrap_or(a(0)),
            _ => 0,
        };
    }
    v
}

#[cfg(test)]
mod tests {
    use super::{index_values, random_indices};
    use crate::{DType, Kernel, KernelBuilder, Op, Val};

    /// Evaluates the i32 index of every load of `k` at (gidx, ridx).
    fn load_indices(k: &Kernel, g: i32, r: i32) -> Vec<i32> {
        let v = index_values(k, g, r);
        k.nodes
            .iter()
            .filter(|n| n.op == Op::LOAD)
            .map(|n| v[n.args[0] as usize])
            .collect()
    }

    /// A contiguous view's index: gidx split by `dims`, summed with strides.
    fn split_and_sum(b: &mut KernelBuilder, idx: Val, dims: &[i32], strides: &[i32]) -> Val {
        let mut total = b.i32(0);
        let mut inner = 1;
        for (k, (&d, &s)) in dims.iter().zip(strides).enumerate().rev() {
            let q = if inner == 1 {
                idx
            } else {
                let c = b.i32(inner);
                b.op(Op::IDIV, &[idx, c])
            };
            let coord = if k == 0 {
                q
            } else {
                let c = b.i32(d);
                b.op(Op::REM, &[q, c])
            };
            let c = b.i32(s);
            let t = b.op(Op::MUL, &[coord, c]);
            total = b.op(Op::ADD, &[total, t]);
            inner *= d;
        }
        total
    }

    #[test]
    fn a_contiguous_split_recomposes_to_gidx() {
        let mut b = KernelBuilder::new();
        let x = b.input(DType::F32);
        let g = b.gidx();
        let idx = split_and_sum(&mut b, g, &[4, 16, 32, 32], &[16384, 1024, 32, 1]);
        let v = b.load(x, idx);
        b.output(v);
        let k = b.finish(65536, 0).simplified();
        assert_eq!(k.nodes.len(), 2, "{k}");
        assert_eq!(k.nodes[1].op, Op::LOAD);
        assert_eq!(k.nodes[1].args[0], 0);
        assert_eq!(k.nodes[0].op, Op::GIDX);
    }

    #[test]
    fn a_transpose_keeps_its_divisions_and_the_values() {
        // [8, 6] read transposed from a [6, 8] buffer, plus a reduction
        // row offset `gidx * rsize + ridx` split again.
        let mut b = KernelBuilder::new();
        let x = b.input(DType::F32);
        let g = b.gidx();
        let idx = split_and_sum(&mut b, g, &[8, 6], &[1, 8]);
        let v = b.load(x, idx);
        let r = b.ridx();
        let c = b.i32(5);
        let row = b.op(Op::MUL, &[g, c]);
        let flat = b.op(Op::ADD, &[row, r]);
        let one = b.i32(1);
        let flat = b.op(Op::MUL, &[flat, one]);
        let idx2 = split_and_sum(&mut b, flat, &[48, 5], &[5, 1]);
        let w = b.load(x, idx2);
        let s = b.op(Op::ADD, &[v, w]);
        let acc = b.reduce(crate::ReduceOp::ADD, s);
        b.output(acc);
        let raw = b.finish(48, 5);
        let k = raw.simplified();
        assert!(k.validate().is_ok());
        assert!(k.nodes.len() < raw.nodes.len(), "{k}");
        for g in 0..48 {
            for r in 0..5 {
                assert_eq!(load_indices(&raw, g, r), load_indices(&k, g, r));
            }
        }
        // The row read became `gidx * 5 + ridx`: no division left for it.
        let divs = k.nodes.iter().filter(|n| n.op == Op::IDIV).count();
        assert_eq!(divs, 1, "{k}");
    }

    #[test]
    fn random_index_expressions_keep_their_values() {
        // A small deterministic generator: expressions over gidx, ridx and
        // constants (some negative), built with every i32 op we simplify.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut smaller = 0;
        for _ in 0..300 {
            let mut b = KernelBuilder::new();
            let xs: Vec<u32> = (0..3).map(|_| b.input(DType::F32)).collect();
            let size = 1 + next(300) as usize;
            let rsize = 1 + next(7) as usize;
            let vals = random_indices(&mut b, 12, &mut next);
            let mut sum = None;
            for (&v, &x) in vals.iter().rev().zip(&xs) {
                let l = b.load(x, v);
                sum = Some(match sum {
                    None => l,
                    Some(s) => b.op(Op::ADD, &[s, l]),
                });
            }
            let acc = b.reduce(crate::ReduceOp::ADD, sum.unwrap());
            b.output(acc);
            let raw = b.finish(size, rsize);
            let k = raw.simplified();
            assert!(k.validate().is_ok(), "{k}");
            smaller += (k.nodes.len() < raw.pruned().nodes.len()) as usize;
            for g in 0..size as i32 {
                for r in 0..rsize as i32 {
                    assert_eq!(
                        load_indices(&raw, g, r),
                        load_indices(&k, g, r),
                        "at gidx {g}, ridx {r}\n{raw}\nsimplified:\n{k}"
                    );
                }
            }
        }
        // The generator must exercise the rewrites, not only the copy.
        assert!(smaller > 100, "only {smaller} of 300 kernels simplified");
    }
}
