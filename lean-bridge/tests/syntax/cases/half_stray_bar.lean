theorem stray (p : Prop) (hp : p) : p := by
  skip
  | foo => exact hp
  exact hp

theorem bar_after_simp (n : Nat) : n = n := by
  simp
    | zero => rfl
