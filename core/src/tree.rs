//! Pytrees: nested containers of arrays that transformations take and
//! return. A [`Tree`] lists its leaves in a fixed order and rebuilds itself
//! from leaves; the value being rebuilt serves as the structure (a `Vec`
//! keeps its length, a map its keys).

use crate::Array;
use std::collections::{BTreeMap, HashMap};

/// A container of arrays. Implemented for `Array`, tuples, `Vec`, arrays,
/// `Option`, `BTreeMap` and `HashMap` (leaves in key order); derive it for
/// your own structs with `#[derive(oxjax::Tree)]`.
pub trait Tree: Sized {
    /// Appends the leaves, in order.
    fn flatten_into(&self, leaves: &mut Vec<Array>);
    /// A value of the same structure as `self` with leaves taken in order.
    fn unflatten_from(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self;

    /// The leaves, in order.
    fn leaves(&self) -> Vec<Array> {
        let mut v = Vec::new();
        self.flatten_into(&mut v);
        v
    }

    /// A value of the same structure built from `leaves`; panics if there
    /// are too few or too many.
    fn unflatten(&self, leaves: Vec<Array>) -> Self {
        let n = leaves.len();
        let mut it = leaves.into_iter();
        let out = self.unflatten_from(&mut it);
        assert!(
            it.next().is_none(),
            "unflatten: {n} leaves for a tree of {}",
            self.leaves().len()
        );
        out
    }

    /// Applies `f` to every leaf.
    fn map(&self, mut f: impl FnMut(&Array) -> Array) -> Self {
        self.unflatten(self.leaves().iter().map(&mut f).collect())
    }

    /// Appends each leaf's path below `prefix`, in leaf order: field names
    /// for `#[derive(Tree)]` structs, positions for tuples, `Vec`s and
    /// arrays, joined with dots (`layers.0.w`). The default (maps, whose
    /// keys have no required text form) names leaves by position.
    fn paths_into(&self, prefix: &str, paths: &mut Vec<String>) {
        let n = self.leaves().len();
        paths.extend((0..n).map(|i| join(prefix, &i.to_string())));
    }

    /// Every leaf's path (see [`Tree::paths_into`]); checkpoint keys
    /// (`interop::save_safetensors_tree`).
    fn leaf_paths(&self) -> Vec<String> {
        let mut v = Vec::new();
        self.paths_into("", &mut v);
        v
    }
}

/// `prefix.key`, or `key` at the root.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Positional paths for a sequence of subtrees.
fn paths_of_items<'a, T: Tree + 'a>(
    items: impl Iterator<Item = &'a T>,
    prefix: &str,
    paths: &mut Vec<String>,
) {
    for (i, x) in items.enumerate() {
        x.paths_into(&join(prefix, &i.to_string()), paths);
    }
}

fn next(leaves: &mut dyn Iterator<Item = Array>) -> Array {
    leaves
        .next()
        .expect("unflatten: too few leaves for the tree structure")
}

impl Tree for Array {
    fn flatten_into(&self, leaves: &mut Vec<Array>) {
        leaves.push(self.clone());
    }
    fn paths_into(&self, prefix: &str, paths: &mut Vec<String>) {
        paths.push(prefix.to_string());
    }
    fn unflatten_from(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        next(leaves)
    }
}

impl Tree for () {
    fn flatten_into(&self, _: &mut Vec<Array>) {}
    fn unflatten_from(&self, _: &mut dyn Iterator<Item = Array>) -> Self {}
}

macro_rules! tuple_tree {
    ($($name:ident $idx:tt),*) => {
        impl<$($name: Tree),*> Tree for ($($name,)*) {
            fn flatten_into(&self, leaves: &mut Vec<Array>) {
                $(self.$idx.flatten_into(leaves);)*
            }
            fn unflatten_from(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
                ($(self.$idx.unflatten_from(leaves),)*)
            }
            fn paths_into(&self, prefix: &str, paths: &mut Vec<String>) {
                $(self.$idx.paths_into(&join(prefix, stringify!($idx)), paths);)*
            }
        }
    };
}

tuple_tree!(A 0);
tuple_tree!(A 0, B 1);
tuple_tree!(A 0, B 1, C 2);
tuple_tree!(A 0, B 1, C 2, D 3);
tuple_tree!(A 0, B 1, C 2, D 3, E 4);

/// The arguments of a function of several arguments, as JAX passes them: a
/// tuple of pytrees (`f(&(params, batch))`). Transformations that pick
/// arguments (`grad_argnums`) need to know where each argument's leaves
/// lie in the flat list.
pub trait Args: Tree {
    /// How many leaves each argument has, in argument order.
    fn arg_leaf_counts(&self) -> Vec<usize>;
}

/// The argument at position `I` of an [`Args`] tuple (a type-level index,
/// so an out-of-range `argnums` is a compile error).
pub trait Nth<const I: usize>: Args {
    /// The argument's type.
    type Arg: Tree;
    /// The argument.
    fn nth(&self) -> &Self::Arg;
}

macro_rules! args_tuple {
    ($($name:ident $idx:tt),*) => {
        impl<$($name: Tree),*> Args for ($($name,)*) {
            fn arg_leaf_counts(&self) -> Vec<usize> {
                vec![$(self.$idx.leaves().len()),*]
            }
        }
    };
}

macro_rules! nth {
    (($($name:ident),*) $idx:tt $arg:ident) => {
        impl<$($name: Tree),*> Nth<$idx> for ($($name,)*) {
            type Arg = $arg;
            fn nth(&self) -> &$arg {
                &self.$idx
            }
        }
    };
}

args_tuple!(A 0);
args_tuple!(A 0, B 1);
args_tuple!(A 0, B 1, C 2);
args_tuple!(A 0, B 1, C 2, D 3);
nth!((A) 0 A);
nth!((A, B) 0 A);
nth!((A, B) 1 B);
nth!((A, B, C) 0 A);
nth!((A, B, C) 1 B);
nth!((A, B, C) 2 C);
nth!((A, B, C, D) 0 A);
nth!((A, B, C, D) 1 B);
nth!((A, B, C, D) 2 C);
nth!((A, B, C, D) 3 D);

impl<T: Tree> Tree for Vec<T> {
    fn flatten_into(&self, leaves: &mut Vec<Array>) {
        self.iter().for_each(|x| x.flatten_into(leaves));
    }
    fn paths_into(&self, prefix: &str, paths: &mut Vec<String>) {
        paths_of_items(self.iter(), prefix, paths);
    }
    fn unflatten_from(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        self.iter().map(|x| x.unflatten_from(leaves)).collect()
    }
}

impl<T: Tree, const N: usize> Tree for [T; N] {
    fn flatten_into(&self, leaves: &mut Vec<Array>) {
        self.iter().for_each(|x| x.flatten_into(leaves));
    }
    fn paths_into(&self, prefix: &str, paths: &mut Vec<String>) {
        paths_of_items(self.iter(), prefix, paths);
    }
    fn unflatten_from(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        std::array::from_fn(|i| self[i].unflatten_from(leaves))
    }
}

impl<T: Tree> Tree for Option<T> {
    fn flatten_into(&self, leaves: &mut Vec<Array>) {
        if let Some(x) = self {
            x.flatten_into(leaves);
        }
    }
    fn unflatten_from(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        self.as_ref().map(|x| x.unflatten_from(leaves))
    }
    fn paths_into(&self, prefix: &str, paths: &mut Vec<String>) {
        if let Some(x) = self {
            x.paths_into(prefix, paths);
        }
    }
}

impl<T: Tree> Tree for Box<T> {
    fn flatten_into(&self, leaves: &mut Vec<Array>) {
        (**self).flatten_into(leaves);
    }
    fn unflatten_from(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        Box::new((**self).unflatten_from(leaves))
    }
    fn paths_into(&self, prefix: &str, paths: &mut Vec<String>) {
        (**self).paths_into(prefix, paths);
    }
}

impl<K: Ord + Clone, V: Tree> Tree for BTreeMap<K, V> {
    fn flatten_into(&self, leaves: &mut Vec<Array>) {
        self.values().for_each(|x| x.flatten_into(leaves));
    }
    fn unflatten_from(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        self.iter()
            .map(|(k, v)| (k.clone(), v.unflatten_from(leaves)))
            .collect()
    }
}

/// Leaves in sorted key order, so the order is the same in every run.
impl<K: Ord + Clone + std::hash::Hash + Eq, V: Tree> Tree for HashMap<K, V> {
    fn flatten_into(&self, leaves: &mut Vec<Array>) {
        let mut keys: Vec<&K> = self.keys().collect();
        keys.sort();
        keys.into_iter().for_each(|k| self[k].flatten_into(leaves));
    }
    fn unflatten_from(&self, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        let mut keys: Vec<&K> = self.keys().collect();
        keys.sort();
        keys.into_iter()
            .map(|k| (k.clone(), self[k].unflatten_from(leaves)))
            .collect()
    }
}
