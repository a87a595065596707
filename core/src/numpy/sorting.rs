//! Sorting and searching: sort, argsort, searchsorted, unique, cumulative ops.
