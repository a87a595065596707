//! `oxjax::optim`: optax-style gradient transformations over pytrees.
