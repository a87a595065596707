//! Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers:
//! as easy as 1, 2, 3"), written as u32 array arithmetic so that every
//! backend computes the same bits and `jit` fuses the whole hash into one
//! kernel.

use crate::{Array, DType, Scalar};

/// Rotation distances: rounds 0–3 of each 8-round cycle use the first row,
/// rounds 4–7 the second.
const ROTATIONS: [[u32; 4]; 2] = [[13, 15, 26, 6], [17, 29, 16, 24]];

/// The key-schedule parity constant of Threefish/Threefry.
const PARITY: u32 = 0x1BD1_1BDA;

fn u32_const(v: u32) -> Array {
    Array::scalar_of(Scalar::U32(v))
}

fn rotate_left(x: &Array, d: u32) -> Array {
    (x << d as i32) | (x >> (32 - d) as i32)
}

/// Hashes the counter pairs `(x0, x1)` under the key `(k0, k1)`; all four are
/// u32 arrays that broadcast together. Returns the two output words.
pub(crate) fn threefry2x32(k0: &Array, k1: &Array, x0: &Array, x1: &Array) -> (Array, Array) {
    for (name, a) in [("k0", k0), ("k1", k1), ("x0", x0), ("x1", x1)] {
        debug_assert_eq!(a.dtype(), DType::U32, "threefry2x32: {name} must be u32");
    }
    let ks = [k0.clone(), k1.clone(), k0 ^ k1 ^ u32_const(PARITY)];
    let mut x0 = x0 + &ks[0];
    let mut x1 = x1 + &ks[1];
    for block in 0..5 {
        for &r in &ROTATIONS[block % 2] {
            x0 = &x0 + &x1;
            x1 = rotate_left(&x1, r) ^ &x0;
        }
        // Key injection after every four rounds, with the block counter.
        x0 = x0 + &ks[(block + 1) % 3];
        x1 = x1 + &ks[(block + 2) % 3] + u32_const(block as u32 + 1);
    }
    (x0, x1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(k: [u32; 2], x: [u32; 2]) -> [u32; 2] {
        let c = |v| Array::scalar(v);
        let (a, b) = threefry2x32(&c(k[0]), &c(k[1]), &c(x[0]), &c(x[1]));
        [a.item::<u32>(), b.item::<u32>()]
    }

    /// Known answers from the Random123 distribution (kat_vectors).
    #[test]
    fn known_answers() {
        assert_eq!(hash([0, 0], [0, 0]), [0x6b20_0159, 0x99ba_4efe]);
        assert_eq!(
            hash([u32::MAX, u32::MAX], [u32::MAX, u32::MAX]),
            [0x1cb9_96fc, 0xbb00_2be7]
        );
        assert_eq!(
            hash([0x1319_8a2e, 0x0370_7344], [0x243f_6a88, 0x85a3_08d3]),
            [0xc492_3a9c, 0x483d_f7a0]
        );
    }
}
