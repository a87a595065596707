//! Type promotion: JAX's lattice (`jax.numpy.promote_types`), restricted to
//! oxjax's dtypes.
//!
//! The result of two dtypes is their least upper bound in JAX's lattice:
//!
//! ```text
//! bool → i* → u8 → u16 → u32 → u64 → f*      i* → i8 → i16 → i32 → i64 → f*
//!             u8 → i16,  u16 → i32,  u32 → i64
//! f* → bf16 → f32 → f64                      f* → f16 → f32
//! ```
//!
//! `i*` and `f*` are the *weak* types of Rust scalar literals: a weak
//! operand never widens a strong one of its kind (`f16_array * 2.0` stays
//! f16, `u8_array + 1` stays u8), and a result that lands on `i*`/`f*` is
//! the default dtype (i32 / f32) and stays weak (`i8_array + 1.5` is a weak
//! f32). Two departures, both because oxjax lacks the dtype: i16 (from
//! `u8 + i8`) becomes i32, and i64 (from `i32 + u32`, `i8 + u32`) becomes
//! i32 as JAX's default 32-bit mode canonicalises it. f64 is kept (JAX
//! without x64 would canonicalise it to f32).

use oxjax_abi::DType;

/// A node of JAX's lattice: oxjax's dtypes plus the ones it lacks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum T {
    Bool,
    IWeak,
    FWeak,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    BF16,
    F16,
    F32,
    F64,
}

/// The direct successors of a node (JAX's `_type_promotion_lattice`, less
/// complex).
fn above(t: T) -> &'static [T] {
    use T::*;
    match t {
        Bool => &[IWeak],
        IWeak => &[U8, I8],
        U8 => &[U16, I16],
        U16 => &[U32, I32],
        U32 => &[U64, I64],
        U64 | I64 => &[FWeak],
        I8 => &[I16],
        I16 => &[I32],
        I32 => &[I64],
        FWeak => &[BF16, F16],
        BF16 | F16 => &[F32],
        F32 => &[F64],
        F64 => &[],
    }
}

/// Every node at or above `t`.
fn upper(t: T) -> Vec<T> {
    let mut out = vec![t];
    let mut i = 0;
    while i < out.len() {
        for &u in above(out[i]) {
            if !out.contains(&u) {
                out.push(u);
            }
        }
        i += 1;
    }
    out
}

/// The least upper bound: the common upper node below all the others.
fn join(a: T, b: T) -> T {
    let ub = upper(b);
    let common: Vec<T> = upper(a).into_iter().filter(|t| ub.contains(t)).collect();
    *common
        .iter()
        .find(|&&c| {
            let uc = upper(c);
            common.iter().all(|x| uc.contains(x))
        })
        .expect("JAX's lattice has a least upper bound for every pair")
}

fn node(d: DType, weak: bool) -> T {
    match d {
        DType::BOOL => T::Bool,
        d if weak && d.is_int() => T::IWeak,
        d if weak => {
            debug_assert!(d.is_float(), "{d}");
            T::FWeak
        }
        DType::U8 => T::U8,
        DType::U32 => T::U32,
        DType::I8 => T::I8,
        DType::I32 => T::I32,
        DType::BF16 => T::BF16,
        DType::F16 => T::F16,
        DType::F32 => T::F32,
        DType::F64 => T::F64,
        other => unreachable!("promote: unknown dtype {other}"),
    }
}

/// The oxjax dtype of a lattice node, and whether it is weak.
fn dtype(t: T) -> (DType, bool) {
    match t {
        T::Bool => (DType::BOOL, false),
        T::IWeak => (DType::I32, true),
        T::FWeak => (DType::F32, true),
        T::U8 => (DType::U8, false),
        // u16/u64 are never a bound of oxjax dtypes; kept total.
        T::U16 | T::U32 | T::U64 => (DType::U32, false),
        T::I8 => (DType::I8, false),
        // departures: no i16, and 32-bit mode's i64 → i32
        T::I16 | T::I32 | T::I64 => (DType::I32, false),
        T::BF16 => (DType::BF16, false),
        T::F16 => (DType::F16, false),
        T::F32 => (DType::F32, false),
        T::F64 => (DType::F64, false),
    }
}

/// Promotes two (dtype, weak) pairs; the result may itself be weak.
pub fn promote(a: (DType, bool), b: (DType, bool)) -> (DType, bool) {
    let ((da, wa), (db, wb)) = (a, b);
    if da == db {
        return (da, wa && wb && da != DType::BOOL);
    }
    if wa && wb {
        // Both weak: the bound of the strong dtypes, weak (as JAX does, so
        // that two weak values never produce a non-default weak dtype).
        let (d, _) = dtype(join(node(da, false), node(db, false)));
        return (d, d != DType::BOOL);
    }
    dtype(join(node(da, wa), node(db, wb)))
}

/// The dtype `sum` and `prod` return: JAX's `promote_integers` widens bool
/// and the narrow integers to the default int of their signedness (i8 →
/// i32, u8 → u32); floats keep their dtype.
pub(crate) fn sum_dtype(d: DType) -> DType {
    match d {
        DType::BOOL | DType::I8 => DType::I32,
        DType::U8 => DType::U32,
        d => d,
    }
}

/// The dtype sums, products and matmul dot products accumulate in: the
/// 16-bit floats in f32 (as XLA on CPU; the result rounds once at the
/// end), i8/u8 in i32/u32 (the same result modulo 256, so an i8 matmul
/// still wraps), everything else in itself.
pub(crate) fn accumulator(d: DType) -> DType {
    match d {
        DType::F16 | DType::BF16 => DType::F32,
        DType::I8 => DType::I32,
        DType::U8 => DType::U32,
        d => d,
    }
}

/// The float dtype an op like `sqrt` or true division computes in.
pub fn to_float(d: DType) -> DType {
    if d.is_float() { d } else { DType::F32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `jax.numpy.promote_types` for every pair of strong oxjax dtypes,
    /// transcribed from JAX's type-promotion table (docs: "Type promotion
    /// semantics", x64 on). Entries JAX gives as i2 / i8 (int16 / int64)
    /// are written so and mapped below: oxjax has neither.
    const NAMES: [&str; 9] = ["b1", "u1", "i1", "i4", "u4", "bf", "f2", "f4", "f8"];
    const TABLE: [[&str; 9]; 9] = [
        //b1    u1    i1    i4    u4    bf    f2    f4    f8
        ["b1", "u1", "i1", "i4", "u4", "bf", "f2", "f4", "f8"], // b1
        ["u1", "u1", "i2", "i4", "u4", "bf", "f2", "f4", "f8"], // u1
        ["i1", "i2", "i1", "i4", "i8", "bf", "f2", "f4", "f8"], // i1
        ["i4", "i4", "i4", "i4", "i8", "bf", "f2", "f4", "f8"], // i4
        ["u4", "u4", "i8", "i8", "u4", "bf", "f2", "f4", "f8"], // u4
        ["bf", "bf", "bf", "bf", "bf", "bf", "f4", "f4", "f8"], // bf
        ["f2", "f2", "f2", "f2", "f2", "f4", "f2", "f4", "f8"], // f2
        ["f4", "f4", "f4", "f4", "f4", "f4", "f4", "f4", "f8"], // f4
        ["f8", "f8", "f8", "f8", "f8", "f8", "f8", "f8", "f8"], // f8
    ];
    /// The weak rows: JAX's `i*` (a Python int) and `f*` (a Python float)
    /// against each strong dtype. `*` marks a weak result.
    const WEAK_INT: [&str; 9] = ["i4*", "u1", "i1", "i4", "u4", "bf", "f2", "f4", "f8"];
    const WEAK_FLOAT: [&str; 9] = ["f4*", "f4*", "f4*", "f4*", "f4*", "bf", "f2", "f4", "f8"];

    fn parse(name: &str) -> (DType, bool) {
        let weak = name.ends_with('*');
        let d = match name.trim_end_matches('*') {
            "b1" => DType::BOOL,
            "u1" => DType::U8,
            "i1" => DType::I8,
            // i2 (no int16) and i8 (int64 in 32-bit mode): oxjax uses i32
            "i2" | "i4" | "i8" => DType::I32,
            "u4" => DType::U32,
            "bf" => DType::BF16,
            "f2" => DType::F16,
            "f4" => DType::F32,
            "f8" => DType::F64,
            other => panic!("{other}"),
        };
        (d, weak)
    }

    #[test]
    fn jax_table() {
        for (i, row) in TABLE.iter().enumerate() {
            let a = parse(NAMES[i]);
            for (j, want) in row.iter().enumerate() {
                let b = parse(NAMES[j]);
                assert_eq!(promote(a, b), parse(want), "{} with {}", NAMES[i], NAMES[j]);
            }
            for (weak, want) in [
                ((DType::I32, true), WEAK_INT[i]),
                ((DType::F32, true), WEAK_FLOAT[i]),
            ] {
                assert_eq!(promote(a, weak), parse(want), "{} with {weak:?}", NAMES[i]);
                assert_eq!(promote(weak, a), parse(want), "{weak:?} with {}", NAMES[i]);
            }
        }
    }

    #[test]
    fn weak_with_weak() {
        let (i, f) = ((DType::I32, true), (DType::F32, true));
        assert_eq!(promote(i, f), (DType::F32, true));
        assert_eq!(promote(i, i), (DType::I32, true));
        assert_eq!(promote((DType::BOOL, true), i), (DType::I32, true));
        // a weak f16 (from an op between weak values) still yields to f16
        assert_eq!(
            promote((DType::F16, true), (DType::F16, false)),
            (DType::F16, false)
        );
    }
}
