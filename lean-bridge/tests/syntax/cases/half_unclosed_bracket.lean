theorem unclosed (a b : Nat) (h : a = b) : b = a := by
  simp [h,
  omega

theorem unmatched (p : Prop) (hp : p) : p := by
  exact hp)

theorem mismatched (p : Prop) (hp : p) : p := by
  exact (hp]
