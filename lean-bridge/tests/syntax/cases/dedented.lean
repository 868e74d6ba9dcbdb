theorem same_line_then_dedent (p : Prop) (hp : p) : p ∧ p := by constructor
  exact hp
  exact hp

theorem continuation_lines (a b : Nat) (h : a = b) : b = a := by
  rw [h] at
    h ⊢
  exact
    rfl

theorem column_zero_tactics (p : Prop) (hp : p) : p := by
exact hp
