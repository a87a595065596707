//! Jaxprs: typed, A-normal-form programs of primitives, built by tracing
//! with abstract values. `make_jaxpr` shows them; `vjp` partially evaluates
//! them; `jit` compiles them.

use super::prim::{Aval, Prim, abstract_eval};
use super::{MainTrace, TraceKind, TracerData, with_main};
use crate::array::Array;
use crate::error::Result;
use oxjax_abi::Scalar;
use std::cell::RefCell;
use std::fmt;

/// An operand of an equation: a variable or an inline scalar literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Atom {
    Var(usize),
    Lit(Scalar, Aval),
}

/// One equation: `outs = prim ins`.
#[derive(Clone, Debug)]
pub struct Eqn {
    pub prim: Prim,
    pub ins: Vec<Atom>,
    pub outs: Vec<usize>,
}

/// A closed jaxpr: inputs, captured constants, equations, outputs. Variable
/// `v` has aval `avals[v]`.
#[derive(Clone)]
pub struct Jaxpr {
    /// The aval of every variable, by number.
    pub avals: Vec<Aval>,
    /// The input variables.
    pub invars: Vec<usize>,
    /// Captured values: their variables and arrays.
    pub constvars: Vec<(usize, Array)>,
    /// The equations, in order.
    pub eqns: Vec<Eqn>,
    /// The outputs.
    pub outs: Vec<Atom>,
}

/// Collects equations while a `Jaxpr` main trace is active.
#[derive(Default)]
pub(crate) struct JaxprBuilder {
    avals: Vec<Aval>,
    constvars: Vec<(usize, Array)>,
    eqns: Vec<Eqn>,
}

impl JaxprBuilder {
    fn new_var(&mut self, aval: Aval) -> usize {
        self.avals.push(aval);
        self.avals.len() - 1
    }

    /// An operand from outside this trace: a literal if it is a concrete
    /// scalar constant, else a captured constant.
    fn capture(&mut self, x: &Array) -> Atom {
        if let Some(c) = x.concrete()
            && let Some(s) = c.scalar_constant()
        {
            return Atom::Lit(s, x.aval());
        }
        if let Some((v, _)) = self.constvars.iter().find(|(_, a)| a.same_value(x)) {
            return Atom::Var(*v);
        }
        let v = self.new_var(x.aval());
        self.constvars.push((v, x.clone()));
        Atom::Var(v)
    }
}

/// The rule of the staging trace: record the equation, return new tracers.
pub(crate) fn process(
    main: &MainTrace,
    builder: &RefCell<JaxprBuilder>,
    prim: &Prim,
    args: &[Array],
) -> Result<Vec<Array>> {
    if let Prim::Custom(c) = prim
        && !matches!(&*c.0, super::custom::Custom::Lin { .. })
    {
        // Staging inlines a custom function's body; its rule only matters
        // to a JVP trace above this one.
        return Ok(vec![super::custom::call(&c.0, args)]);
    }
    let mut b = builder.borrow_mut();
    let ins: Vec<Atom> = args
        .iter()
        .map(|a| match main.own(a) {
            Some(TracerData::Jaxpr { var }) => Atom::Var(*var),
            _ => b.capture(a),
        })
        .collect();
    let in_avals: Vec<Aval> = args.iter().map(|a| a.aval()).collect();
    let out_avals = abstract_eval(prim, &in_avals);
    let outs: Vec<usize> = out_avals.iter().map(|a| b.new_var(a.clone())).collect();
    b.eqns.push(Eqn {
        prim: prim.clone(),
        ins,
        outs: outs.clone(),
    });
    drop(b);
    Ok(outs
        .iter()
        .zip(out_avals)
        .map(|(&var, aval)| main.tracer(aval, TracerData::Jaxpr { var }))
        .collect())
}

/// Traces `f` on abstract inputs of the given avals into a jaxpr.
pub(crate) fn trace_to_jaxpr(in_avals: &[Aval], f: impl FnOnce(&[Array]) -> Vec<Array>) -> Jaxpr {
    let kind = TraceKind::Jaxpr {
        builder: RefCell::new(JaxprBuilder::default()),
        dynamic: true,
    };
    with_main(kind, |main| {
        let TraceKind::Jaxpr { builder, .. } = &main.kind else {
            unreachable!()
        };
        let mut invars = Vec::new();
        let args: Vec<Array> = in_avals
            .iter()
            .map(|aval| {
                let var = builder.borrow_mut().new_var(aval.clone());
                invars.push(var);
                main.tracer(aval.clone(), TracerData::Jaxpr { var })
            })
            .collect();
        let results = f(&args);
        let mut b = builder.borrow_mut();
        let outs = results
            .iter()
            .map(|r| match main.own(r) {
                Some(TracerData::Jaxpr { var }) => Atom::Var(*var),
                _ => b.capture(r),
            })
            .collect();
        let b = std::mem::take(&mut *b);
        Jaxpr {
            avals: b.avals,
            invars,
            constvars: b.constvars,
            eqns: b.eqns,
            outs,
        }
    })
}

impl Jaxpr {
    /// Evaluates the jaxpr by binding each equation (so evaluation itself
    /// can be transformed).
    pub fn eval(&self, args: &[Array]) -> Vec<Array> {
        assert_eq!(
            args.len(),
            self.invars.len(),
            "eval_jaxpr: wrong number of arguments"
        );
        let mut env: Vec<Option<Array>> = vec![None; self.avals.len()];
        for (&v, a) in self.invars.iter().zip(args) {
            env[v] = Some(a.clone());
        }
        for (v, a) in &self.constvars {
            env[*v] = Some(a.clone());
        }
        let read = |env: &[Option<Array>], atom: &Atom| match atom {
            Atom::Var(v) => env[*v].clone().expect("jaxpr variable defined before use"),
            Atom::Lit(s, aval) => literal(*s, aval),
        };
        for eqn in &self.eqns {
            let ins: Vec<Array> = eqn.ins.iter().map(|a| read(&env, a)).collect();
            let refs: Vec<&Array> = ins.iter().collect();
            let outs =
                super::bind(eqn.prim.clone(), &refs).unwrap_or_else(|e| crate::error::raise(e));
            for (&v, o) in eqn.outs.iter().zip(outs) {
                env[v] = Some(o);
            }
        }
        self.outs.iter().map(|a| read(&env, a)).collect()
    }

    /// Whether any equation has side effects.
    pub fn has_effects(&self) -> bool {
        self.eqns.iter().any(|e| e.prim.has_effects())
    }

    /// The aval of an atom.
    pub fn aval(&self, atom: &Atom) -> Aval {
        match atom {
            Atom::Var(v) => self.avals[*v].clone(),
            Atom::Lit(_, aval) => aval.clone(),
        }
    }
}

/// A literal scalar as an array with its recorded aval.
pub(crate) fn literal(s: Scalar, aval: &Aval) -> Array {
    let a = if aval.weak {
        Array::weak(s)
    } else {
        Array::scalar_of(s)
    };
    if a.shape() == aval.shape.as_slice() {
        a
    } else {
        a.broadcast_to(&aval.shape)
    }
}

/// `a`, ..., `z`, `ba`, `bb`, ...: JAX's variable names.
fn var_name(mut v: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (v % 26) as u8);
        v /= 26;
        if v == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8(s).unwrap()
}

impl fmt::Display for Jaxpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Number variables in order of appearance, as JAX prints them.
        let mut names = vec![String::new(); self.avals.len()];
        let mut next = 0;
        let mut name = |v: usize, names: &mut Vec<String>| {
            if names[v].is_empty() {
                names[v] = var_name(next);
                next += 1;
            }
        };
        for (v, _) in &self.constvars {
            name(*v, &mut names);
        }
        for &v in &self.invars {
            name(v, &mut names);
        }
        for e in &self.eqns {
            for &v in &e.outs {
                name(v, &mut names);
            }
        }
        let decl = |v: usize| format!("{}:{}", names[v], self.avals[v]);
        let atom = |a: &Atom| match a {
            Atom::Var(v) => names[*v].clone(),
            Atom::Lit(s, _) => s.to_string(),
        };
        let consts: Vec<String> = self.constvars.iter().map(|(v, _)| decl(*v)).collect();
        let ins: Vec<String> = self.invars.iter().map(|&v| decl(v)).collect();
        writeln!(f, "{{ lambda {}; {}. let", consts.join(" "), ins.join(" "))?;
        for e in &self.eqns {
            let outs: Vec<String> = e.outs.iter().map(|&v| decl(v)).collect();
            let mut ins: Vec<String> = e.ins.iter().map(atom).collect();
            if e.prim == Prim::Select {
                // `Select(c, a, b)` is `c ? a : b`; JAX's `select_n(c, *cases)`
                // lists the case for false first.
                ins.swap(1, 2);
            }
            writeln!(f, "    {} = {} {}", outs.join(" "), e.prim, ins.join(" "))?;
        }
        let outs: Vec<String> = self.outs.iter().map(atom).collect();
        match outs.as_slice() {
            [one] => write!(f, "  in ({one},) }}"),
            _ => write!(f, "  in ({}) }}", outs.join(", ")),
        }
    }
}

impl fmt::Debug for Jaxpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
