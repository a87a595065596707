//! `jax.scipy`: the special functions (`oxjax::scipy::special`).

pub mod special;
