//! proofwright-model
