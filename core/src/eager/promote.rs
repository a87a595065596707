//! Type promotion: JAX's lattice, restricted to oxjax's dtypes.
//!
//! bool < integers < floats. Two integer dtypes promote to i32 (JAX's
//! 32-bit mode); floats to the wider one; an integer with a float to the
//! float. A *weak* operand (a Rust scalar literal) never widens a strong
//! one of the same or a higher category: `f16_array * 2.0` stays f16, and
//! `i32_array + 1.5` becomes f32 (the default float).

use oxjax_abi::DType;

fn category(d: DType) -> u8 {
    if d == DType::BOOL {
        0
    } else if d.is_int() {
        1
    } else {
        2
    }
}

/// The dtype a weak value of category `cat` takes on its own.
fn default_of(cat: u8) -> DType {
    [DType::BOOL, DType::I32, DType::F32][cat as usize]
}

/// Promotes two (dtype, weak) pairs; the result may itself be weak.
pub(crate) fn promote(a: (DType, bool), b: (DType, bool)) -> (DType, bool) {
    let (da, wa) = a;
    let (db, wb) = b;
    if da == db {
        return (da, wa && wb);
    }
    let (ca, cb) = (category(da), category(db));
    match (wa, wb) {
        (true, false) if ca <= cb => (db, false),
        (false, true) if cb <= ca => (da, false),
        (true, false) => (default_of(ca), false),
        (false, true) => (default_of(cb), false),
        // Both strong, or both weak: the higher category wins.
        _ => {
            let weak = wa && wb;
            if ca != cb {
                return if ca > cb { (da, weak) } else { (db, weak) };
            }
            match ca {
                1 => (DType::I32, weak),
                _ => (if da.size() >= db.size() { da } else { db }, weak),
            }
        }
    }
}

/// The float dtype an op like `sqrt` or true division computes in.
pub(crate) fn to_float(d: DType) -> DType {
    if d.is_float() { d } else { DType::F32 }
}

#[cfg(test)]
mod tests {
    use super::*;
    const B: DType = DType::BOOL;
    const I: DType = DType::I32;
    const U: DType = DType::U32;
    const H: DType = DType::F16;
    const F: DType = DType::F32;
    const D: DType = DType::F64;

    #[test]
    fn lattice() {
        let cases = [
            ((I, false), (F, false), (F, false)),
            ((H, false), (F, false), (F, false)),
            ((F, false), (D, false), (D, false)),
            ((I, false), (U, false), (I, false)),
            ((B, false), (U, false), (U, false)),
            ((H, false), (F, true), (H, false)),
            ((I, false), (F, true), (F, false)),
            ((U, false), (I, true), (U, false)),
            ((B, false), (I, true), (I, false)),
            ((D, false), (F, true), (D, false)),
            ((I, true), (F, true), (F, true)),
        ];
        for (a, b, want) in cases {
            assert_eq!(promote(a, b), want, "{a:?} with {b:?}");
            assert_eq!(promote(b, a), want, "{b:?} with {a:?}");
        }
    }
}
