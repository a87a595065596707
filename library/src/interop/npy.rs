//! NumPy's `.npy` format (version 1, 2 and 3 headers): a magic string, a
//! version, a Python-literal header `{'descr': '<f4', 'fortran_order':
//! False, 'shape': (2, 3), }` padded to 64 bytes, then the raw data.

use super::{from_le_bytes, io_err, to_le_bytes};
use crate::error::{Error, ErrorKind, Result, err};
use crate::{Array, DType};
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// oxjax dtypes and their NumPy type strings (little-endian; `|` for bytes).
/// NumPy has no bfloat16: `np.save` of an `ml_dtypes.bfloat16` array
/// writes the opaque two-byte `<V2` (`np.load` then gives a void array;
/// `.view(ml_dtypes.bfloat16)` restores it), so that is what bf16 reads
/// from and writes to.
const DESCRS: [(DType, &str); 9] = [
    (DType::BOOL, "|b1"),
    (DType::I8, "|i1"),
    (DType::U8, "|u1"),
    (DType::I32, "<i4"),
    (DType::U32, "<u4"),
    (DType::BF16, "<V2"),
    (DType::F16, "<f2"),
    (DType::F32, "<f4"),
    (DType::F64, "<f8"),
];

/// Whether a header's type string names `ours`: the same, with `=`
/// (native) for `<`, or `|` (no byte order) for a one-byte type or a void.
fn same_descr(ours: &str, theirs: &str) -> bool {
    let body = |s: &str| s.trim_start_matches(['<', '=', '|']).to_string();
    let order_free = ours.starts_with('|') || ours.contains('V');
    ours == theirs
        || ours.replace('<', "=") == theirs
        || (order_free && body(ours) == body(theirs) && !theirs.starts_with('>'))
}

/// Writes `a` as a `.npy` file.
///
/// ```
/// use oxjax::{interop, Array};
/// let path = std::env::temp_dir().join("oxjax-doc-save.npy");
/// interop::save_npy(&path, &Array::from_vec(vec![1.0f32, 2.0], &[2])).unwrap();
/// assert_eq!(interop::load_npy(&path).unwrap().to_vec::<f32>(), [1.0, 2.0]);
/// ```
pub fn save_npy(path: impl AsRef<Path>, a: &Array) -> Result<()> {
    let path = path.as_ref();
    let mut bytes = Vec::new();
    write_npy(&mut bytes, a)?;
    std::fs::write(path, bytes).map_err(|e| io_err("save_npy", path, e))
}

/// Reads a `.npy` file into an array on the default device.
///
/// ```
/// let err = oxjax::interop::load_npy("/no/such/file.npy").unwrap_err();
/// assert!(err.to_string().starts_with("load_npy: /no/such/file.npy:"));
/// ```
pub fn load_npy(path: impl AsRef<Path>) -> Result<Array> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io_err("load_npy", path, e))?;
    read_npy(&mut bytes.as_slice()).map_err(|e| {
        Error::new(
            e.kind(),
            e.to_string()
                .replacen("npy:", &format!("load_npy: {}:", path.display()), 1),
        )
    })
}

/// Writes the `.npy` encoding of `a` (a version 1.0 header when it fits,
/// else 2.0).
///
/// ```
/// let mut buf = Vec::new();
/// oxjax::interop::write_npy(&mut buf, &oxjax::Array::scalar(7i32)).unwrap();
/// assert!(buf.starts_with(b"\x93NUMPY\x01\x00"));
/// ```
pub fn write_npy(w: &mut impl Write, a: &Array) -> Result<()> {
    let descr = DESCRS.iter().find(|(d, _)| *d == a.dtype()).unwrap().1;
    let shape = match a.shape() {
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2 or 4) + header + '\n', padded to 64.
    let v1 = header.len() + 11 < 65536;
    let prefix = if v1 { 10 } else { 12 };
    let pad = (64 - (prefix + header.len() + 1) % 64) % 64;
    header.extend(std::iter::repeat_n(' ', pad));
    header.push('\n');
    let mut out = MAGIC.to_vec();
    if v1 {
        out.extend([1, 0]);
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend([2, 0]);
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header.as_bytes());
    out.extend(to_le_bytes(a)?);
    w.write_all(&out)
        .map_err(|e| Error::new(ErrorKind::Io, format!("write_npy: {e}")))
}

/// Reads one `.npy` encoding into an array on the default device.
///
/// ```
/// use oxjax::{interop, Array};
/// let mut buf = Vec::new();
/// interop::write_npy(&mut buf, &Array::from_vec(vec![true, false], &[2])).unwrap();
/// let x = interop::read_npy(&mut buf.as_slice()).unwrap();
/// assert_eq!(x.to_vec::<bool>(), [true, false]);
/// ```
pub fn read_npy(r: &mut impl Read) -> Result<Array> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)
        .map_err(|e| Error::new(ErrorKind::Io, format!("npy: {e}")))?;
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return err(ErrorKind::Io, "npy: not a .npy file (no \\x93NUMPY magic)");
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
        v => {
            return err(
                ErrorKind::Unsupported,
                format!("npy: unsupported format version {v}.{}", bytes[7]),
            );
        }
    };
    let header = bytes
        .get(start..start + len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| Error::new(ErrorKind::Value, "npy: truncated or non-text header"))?;
    let descr = field(header, "descr")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let dtype = DESCRS
        .iter()
        .find(|(_, s)| same_descr(s, descr))
        .map(|(d, _)| *d)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                format!(
                    "npy: dtype '{descr}' is not supported; oxjax reads {}",
                    DESCRS.map(|(_, s)| s).join(", ")
                ),
            )
        })?;
    if field(header, "fortran_order")? != "False" {
        return err(
            ErrorKind::Unsupported,
            "npy: Fortran-order arrays are not supported; save a C-order array (np.ascontiguousarray)",
        );
    }
    let shape_text = field(header, "shape")?;
    let shape = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| {
            Error::new(
                ErrorKind::Shape,
                format!("npy: bad shape {shape_text} in header"),
            )
        })?;
    from_le_bytes("npy", dtype, &shape, &bytes[start + len..])
}

/// The text of `key`'s value in the header dict: up to the next top-level
/// comma (a tuple's commas are inside parentheses).
fn field<'h>(header: &'h str, key: &str) -> Result<&'h str> {
    let missing = || {
        Error::new(
            ErrorKind::Value,
            format!("npy: header has no '{key}': {}", header.trim()),
        )
    };
    let at = header.find(&format!("'{key}'")).ok_or_else(missing)?;
    let rest = header[at + key.len() + 2..].trim_start();
    let rest = rest.strip_prefix(':').ok_or_else(missing)?.trim_start();
    let mut depth = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '}' if depth == 0 => return Ok(rest[..i].trim()),
            _ => {}
        }
    }
    Err(missing())
}
