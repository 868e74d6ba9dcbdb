//! proofwright-kernels
