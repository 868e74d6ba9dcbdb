//! The proofwright binary.
fn main() {}
