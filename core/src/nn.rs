//! `oxjax::nn`: activations, softmax family, one_hot, standardize, initializers.
