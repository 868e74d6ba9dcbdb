//! Lean 4 syntax: declarations outline, tactic-step segmentation and `sorry` discovery.
