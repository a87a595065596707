//! `oxjax::random`: counter-based threefry2x32 keys and samplers with JAX key semantics.
