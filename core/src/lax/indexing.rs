//! Gather, scatter, dynamic_slice and dynamic_update_slice.
