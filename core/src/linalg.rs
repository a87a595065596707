//! `oxjax::linalg`: decompositions and solvers, with gradients.
