theorem conv_example (a b : Nat) : a + b = b + a := by
  conv => lhs; rw [Nat.add_comm]

theorem conv_at (a b : Nat) (h : a + b = 0) : b + a = 0 := by
  conv at h =>
    rw [Nat.add_comm]
  exact h

theorem conv_lhs_example (a b : Nat) : a * b = b * a := by
  conv_lhs => rw [Nat.mul_comm]
  conv in a * b =>
    rw [Nat.mul_comm]
