//! `oxjax::fft`: discrete Fourier transforms (1-D and n-D).
