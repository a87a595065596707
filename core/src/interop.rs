//! Interop: ndarray conversion, safetensors and `.npy` files.
