//! The op vocabulary kernels are built from: the elementwise, reduction,
//! scan and scatter ops primitives carry (the trace re-exports them under
//! their old paths, `trace::prim::BinOp` and so on).

macro_rules! op_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal;)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[allow(missing_docs)] // each variant is the jaxpr name beside it
        pub enum $name { $($variant),* }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The name in jaxpr text.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }
    };
}

op_enum! {
    /// Elementwise unary primitives (operand and result share a dtype, except
    /// the classifiers, which return bool).
    UnOp {
        Neg => "neg"; Abs => "abs"; Sign => "sign";
        Sqrt => "sqrt"; Rsqrt => "rsqrt"; Recip => "reciprocal";
        Exp => "exp"; Exp2 => "exp2"; Log => "log"; Log2 => "log2";
        Log1p => "log1p"; Expm1 => "expm1";
        Sin => "sin"; Cos => "cos"; Tan => "tan";
        Asin => "asin"; Acos => "acos"; Atan => "atan";
        Sinh => "sinh"; Cosh => "cosh"; Tanh => "tanh";
        Erf => "erf"; Erfc => "erfc";
        Floor => "floor"; Ceil => "ceil"; Round => "round"; Trunc => "trunc";
        IsNan => "is_nan"; IsInf => "is_inf"; IsFinite => "is_finite";
        Not => "not";
    }
}

op_enum! {
    /// Elementwise binary primitives on two operands of one dtype and shape.
    BinOp {
        Add => "add"; Sub => "sub"; Mul => "mul"; Div => "div";
        FloorDiv => "floor_divide"; Rem => "remainder"; Fmod => "fmod";
        Pow => "pow"; Min => "min"; Max => "max"; Atan2 => "atan2";
        And => "and"; Or => "or"; Xor => "xor";
        Shl => "shift_left"; Shr => "shift_right";
        Lt => "lt"; Le => "le"; Gt => "gt"; Ge => "ge";
        Eq => "eq"; Ne => "ne";
    }
}

op_enum! {
    /// Reductions over a set of axes (no keepdims; the API reshapes).
    RedOp {
        Sum => "reduce_sum"; Prod => "reduce_prod"; Max => "reduce_max";
        Min => "reduce_min"; Mean => "reduce_mean"; All => "reduce_and"; Any => "reduce_or";
    }
}

impl UnOp {
    /// True for the ops that return bool.
    pub fn is_classifier(self) -> bool {
        matches!(self, UnOp::IsNan | UnOp::IsInf | UnOp::IsFinite)
    }
}

impl BinOp {
    /// `lt`, `le`, `gt`, `ge`, `eq`, `ne`: bool results.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
        )
    }
}

/// How a scatter combines an update with the value already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScatterMode {
    /// Replace (the last duplicate index wins).
    Set,
    /// Accumulate by addition.
    Add,
    /// Accumulate by multiplication.
    Mul,
    /// Keep the minimum.
    Min,
    /// Keep the maximum.
    Max,
}

impl ScatterMode {
    /// The SCATTER routine's `params[0]`.
    pub(crate) fn code(self) -> i64 {
        self as i64
    }
}

/// The combining op of a cumulative scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CumOp {
    /// Running sum.
    Sum,
    /// Running product.
    Prod,
    /// Running maximum.
    Max,
    /// Running minimum.
    Min,
}

impl CumOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            CumOp::Sum => "cumsum",
            CumOp::Prod => "cumprod",
            CumOp::Max => "cummax",
            CumOp::Min => "cummin",
        }
    }

    pub(crate) fn routine(self) -> oxjax_abi::RoutineKind {
        use oxjax_abi::RoutineKind as R;
        match self {
            CumOp::Sum => R::CUMSUM,
            CumOp::Prod => R::CUMPROD,
            CumOp::Max => R::CUMMAX,
            CumOp::Min => R::CUMMIN,
        }
    }
}
