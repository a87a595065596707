//! User-defined derivatives: `custom_jvp`, `custom_vjp`, and `checkpoint`
//! (rematerialisation, built on `custom_vjp`: it keeps only the inputs and
//! re-runs the forward pass inside the backward pass).
//!
//! A custom function is one primitive holding closures. Evaluation and
//! staging call the function itself; the JVP trace calls the user's rule
//! (custom_jvp) or runs `fwd` and emits a linear `custom_lin` primitive over
//! the residuals and tangents whose transpose calls `bwd` (custom_vjp).

use super::prim::Aval;
use crate::array::Array;
use std::fmt;
use std::sync::Arc;

// Shared with every jaxpr and compiled program holding the primitive, so
// `Send + Sync`: programs cross threads.
pub(crate) type Flat = Arc<dyn Fn(&[Array]) -> Array + Send + Sync>;
pub(crate) type JvpRule = Arc<dyn Fn(&[Array], &[Array]) -> (Array, Array) + Send + Sync>;
pub(crate) type Fwd = Arc<dyn Fn(&[Array]) -> (Array, Vec<Array>) + Send + Sync>;
pub(crate) type Bwd = Arc<dyn Fn(&[Array], &Array) -> Vec<Array> + Send + Sync>;

/// The closures behind a custom primitive.
pub enum Custom {
    Jvp {
        name: String,
        f: Flat,
        rule: JvpRule,
    },
    Vjp {
        name: String,
        f: Flat,
        fwd: Fwd,
        bwd: Bwd,
        remat: bool,
    },
    /// The linear map `t ↦ J t` of a custom_vjp function at a point; its
    /// operands are `n_res` residuals then the tangents. Transposing it
    /// calls `bwd`; applying it forward is only possible for `checkpoint`
    /// (residuals are the inputs, so it is `jvp(f)`).
    Lin {
        name: String,
        n_res: usize,
        out: Aval,
        bwd: Bwd,
        forward: Option<Flat>,
    },
}

impl Custom {
    pub fn name(&self) -> &str {
        match self {
            Custom::Jvp { name, .. } | Custom::Vjp { name, .. } | Custom::Lin { name, .. } => name,
        }
    }
}

impl fmt::Debug for Custom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Custom::Jvp { .. } => "custom_jvp_call",
            Custom::Vjp { remat: true, .. } => "checkpoint",
            Custom::Vjp { .. } => "custom_vjp_call",
            Custom::Lin { .. } => "custom_lin",
        };
        write!(f, "{kind}[name={}]", self.name())
    }
}

/// A shared handle, equal only to itself.
#[derive(Clone)]
pub struct CustomRef(pub Arc<Custom>);

impl PartialEq for CustomRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for CustomRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Evaluates a custom primitive's function on arrays (eagerly, or by
/// inlining it into whatever trace is active).
pub(crate) fn call(c: &Custom, args: &[Array]) -> Array {
    match c {
        Custom::Jvp { f, .. } | Custom::Vjp { f, .. } => f(args),
        Custom::Lin {
            forward: Some(f),
            n_res,
            ..
        } => {
            let (res, t) = args.split_at(*n_res);
            let (_, out) = super::jvp::jvp_flat(|x| vec![f(x)], res, t);
            out.into_iter()
                .next()
                .flatten()
                .unwrap_or_else(|| f(res).zeros_like())
        }
        Custom::Lin { name, .. } => crate::error::fail(
            crate::ErrorKind::Unsupported,
            format!(
                "{name}: a custom_vjp function supports reverse mode (grad, vjp) only; \
             forward mode (jvp, jacfwd) needs custom_jvp"
            ),
        ),
    }
}

/// The JVP of a custom primitive: `(primal out, tangent out)`.
pub(crate) fn jvp(c: &Arc<Custom>, x: &[Array], t: &[Option<Array>]) -> (Array, Option<Array>) {
    let tangents = || -> Vec<Array> {
        t.iter()
            .zip(x)
            .map(|(t, x)| t.clone().unwrap_or_else(|| x.zeros_like()))
            .collect()
    };
    match &**c {
        Custom::Jvp { rule, .. } => {
            if t.iter().all(Option::is_none) {
                return (call(c, x), None);
            }
            let (y, ty) = rule(x, &tangents());
            (y, Some(ty))
        }
        Custom::Vjp {
            name,
            f,
            fwd,
            bwd,
            remat,
        } => {
            let (y, res) = fwd(x);
            if t.iter().all(Option::is_none) {
                return (y, None);
            }
            let lin = Custom::Lin {
                name: name.clone(),
                n_res: res.len(),
                out: y.aval(),
                bwd: bwd.clone(),
                forward: remat.then(|| f.clone()),
            };
            let mut ops = res;
            ops.extend(tangents());
            let refs: Vec<&Array> = ops.iter().collect();
            let ty = super::bind1(super::prim::Prim::Custom(CustomRef(Arc::new(lin))), &refs);
            (y, Some(ty))
        }
        Custom::Lin { n_res, .. } => {
            // Linear in the tangent operands: apply it to their tangents.
            let y = call(c, x);
            if t[*n_res..].iter().all(Option::is_none) {
                return (y, None);
            }
            let mut ops = x[..*n_res].to_vec();
            ops.extend(
                t[*n_res..]
                    .iter()
                    .zip(&x[*n_res..])
                    .map(|(t, x)| t.clone().unwrap_or_else(|| x.zeros_like())),
            );
            (y, Some(call(c, &ops)))
        }
    }
}

/// The transpose of `custom_lin`: cotangents of the tangent operands.
pub(crate) fn transpose(c: &Custom, ct: &Array, known: &[Option<&Array>]) -> Vec<Option<Array>> {
    let Custom::Lin { n_res, bwd, .. } = c else {
        panic!("internal error: {c:?} is not linear");
    };
    let res: Vec<Array> = known[..*n_res]
        .iter()
        .map(|r| (*r).expect("residuals are known").clone())
        .collect();
    let mut out = vec![None; *n_res];
    out.extend(bwd(&res, ct).into_iter().map(Some));
    out
}
