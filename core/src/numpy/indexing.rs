//! Indexing: take, take_along_axis, index builders and functional `.at[...]` updates.
