//! safetensors files (Hugging Face's format: a JSON header of names,
//! dtypes, shapes and offsets, then the raw data), through the
//! `safetensors` crate. A map of names to arrays is a pytree, so a model's
//! parameters stored as a `BTreeMap<String, Array>` save and load directly.

use super::{from_le_bytes, io_err, to_le_bytes};
use crate::error::{Error, ErrorKind, Result};
use crate::{Array, DType, Tree};
use ::safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::BTreeMap;
use std::path::Path;

const DTYPES: [(DType, Dtype); 9] = [
    (DType::BOOL, Dtype::BOOL),
    (DType::I8, Dtype::I8),
    (DType::U8, Dtype::U8),
    (DType::BF16, Dtype::BF16),
    (DType::I32, Dtype::I32),
    (DType::U32, Dtype::U32),
    (DType::F16, Dtype::F16),
    (DType::F32, Dtype::F32),
    (DType::F64, Dtype::F64),
];

/// The safetensors encoding of named arrays.
///
/// ```
/// use std::collections::BTreeMap;
/// use oxjax::{interop, Array};
/// let mut m = BTreeMap::new();
/// m.insert("w".to_string(), Array::from_vec(vec![1.0f32, 2.0], &[2]));
/// let bytes = interop::safetensors_to_bytes(&m).unwrap();
/// let back = interop::safetensors_from_bytes(&bytes).unwrap();
/// assert_eq!(back["w"].to_vec::<f32>(), [1.0, 2.0]);
/// ```
pub fn safetensors_to_bytes(tensors: &BTreeMap<String, Array>) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    for (name, a) in tensors {
        let dtype = DTYPES.iter().find(|(d, _)| *d == a.dtype()).unwrap().1;
        data.push((name.as_str(), dtype, a.shape().to_vec(), to_le_bytes(a)?));
    }
    let views = data
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (*name, v))
                .map_err(|e| {
                    Error::new(ErrorKind::Value, format!("safetensors: tensor {name}: {e}"))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    ::safetensors::serialize(views, None)
        .map_err(|e| Error::new(ErrorKind::Value, format!("safetensors: {e}")))
}

/// Named arrays (on the default device) from a safetensors encoding.
/// Tensors of dtypes oxjax lacks (i64, f8, ...) are an error naming them.
///
/// ```
/// let err = oxjax::interop::safetensors_from_bytes(b"nonsense").unwrap_err();
/// assert!(err.to_string().starts_with("safetensors:"));
/// ```
pub fn safetensors_from_bytes(bytes: &[u8]) -> Result<BTreeMap<String, Array>> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::new(ErrorKind::Io, format!("safetensors: not a valid file: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, view) in file.tensors() {
        let dtype = DTYPES
            .iter()
            .find(|(_, d)| *d == view.dtype())
            .map(|(d, _)| *d)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::DType,
                    format!(
                        "safetensors: tensor {name} has dtype {:?}, which oxjax does not support \
                     (BOOL, I8, U8, I32, U32, BF16, F16, F32, F64)",
                        view.dtype()
                    ),
                )
            })?;
        let a = from_le_bytes(
            &format!("safetensors: tensor {name}"),
            dtype,
            view.shape(),
            view.data(),
        )?;
        out.insert(name, a);
    }
    Ok(out)
}

/// Saves named arrays as a safetensors file.
///
/// ```
/// use std::collections::BTreeMap;
/// use oxjax::{interop, Array};
/// let path = std::env::temp_dir().join("oxjax-doc.safetensors");
/// let m = BTreeMap::from([("b".to_string(), Array::scalar(1.5f32))]);
/// interop::save_safetensors(&path, &m).unwrap();
/// assert_eq!(interop::load_safetensors(&path).unwrap()["b"].item::<f32>(), 1.5);
/// ```
pub fn save_safetensors(path: impl AsRef<Path>, tensors: &BTreeMap<String, Array>) -> Result<()> {
    let path = path.as_ref();
    let bytes = safetensors_to_bytes(tensors)?;
    std::fs::write(path, bytes).map_err(|e| io_err("save_safetensors", path, e))
}

/// Loads every tensor of a safetensors file.
///
/// ```
/// let err = oxjax::interop::load_safetensors("/no/such.safetensors").unwrap_err();
/// assert!(err.to_string().starts_with("load_safetensors: /no/such.safetensors:"));
/// ```
pub fn load_safetensors(path: impl AsRef<Path>) -> Result<BTreeMap<String, Array>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io_err("load_safetensors", path, e))?;
    safetensors_from_bytes(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("load_safetensors: {}: {e}", path.display()),
        )
    })
}

/// A pytree's leaves by name: each leaf under its path (`layers.0.w`, see
/// [`Tree::leaf_paths`](crate::Tree::leaf_paths)); an error if two leaves
/// share a path (a map's positional names can collide with a field's).
pub fn named_leaves<T: Tree>(tree: &T) -> Result<BTreeMap<String, Array>> {
    let mut out = BTreeMap::new();
    for (path, leaf) in tree.leaf_paths().into_iter().zip(tree.leaves()) {
        if out.insert(path.clone(), leaf).is_some() {
            return Err(Error::new(
                ErrorKind::Value,
                format!("named_leaves: two leaves are named {path:?}"),
            ));
        }
    }
    Ok(out)
}

/// Saves a pytree (a `#[derive(Tree)]` model, its optimizer state, ...) to
/// a safetensors file, each leaf under its field path, so the file reads
/// by name in any tool.
///
/// ```
/// use oxjax::{interop, Array, Tree};
/// #[derive(Tree)]
/// struct Layer { w: Array, b: Array }
/// #[derive(Tree)]
/// struct Model { layers: Vec<Layer> }
/// let m = Model { layers: vec![Layer { w: Array::ones(&[2, 2], oxjax::DType::F32), b: Array::zeros(&[2], oxjax::DType::F32) }] };
/// let path = std::env::temp_dir().join(format!("oxjax-doc-tree-{}.safetensors", std::process::id()));
/// interop::save_safetensors_tree(&path, &m).unwrap();
/// assert!(interop::load_safetensors(&path).unwrap().contains_key("layers.0.w"));
/// let back = interop::load_safetensors_tree(&path, &m).unwrap();
/// assert_eq!(back.layers[0].w.to_vec::<f32>(), [1.0; 4]);
/// ```
pub fn save_safetensors_tree<T: Tree>(path: impl AsRef<Path>, tree: &T) -> Result<()> {
    save_safetensors(path, &named_leaves(tree)?)
}

/// Loads a pytree saved by [`save_safetensors_tree`]: `like` gives the
/// structure, each leaf is read by its path and must have the same shape
/// and dtype (the error names the leaf). Extra tensors in the file are
/// ignored, so a checkpoint can carry more than one tree.
pub fn load_safetensors_tree<T: Tree>(path: impl AsRef<Path>, like: &T) -> Result<T> {
    let path = path.as_ref();
    let mut file = load_safetensors(path)?;
    let mut leaves = Vec::new();
    for (name, want) in like.leaf_paths().into_iter().zip(like.leaves()) {
        let got = file.remove(&name).ok_or_else(|| {
            Error::new(
                ErrorKind::Value,
                format!(
                    "load_safetensors_tree: {} has no tensor {name:?}",
                    path.display()
                ),
            )
        })?;
        if got.shape() != want.shape() || got.dtype() != want.dtype() {
            return Err(Error::new(
                ErrorKind::DType,
                format!(
                    "load_safetensors_tree: {}: {name:?} is {}{:?}, the tree wants {}{:?}",
                    path.display(),
                    got.dtype(),
                    got.shape(),
                    want.dtype(),
                    want.shape()
                ),
            ));
        }
        leaves.push(got);
    }
    Ok(like.unflatten(leaves))
}
