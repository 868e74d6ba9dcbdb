theorem semis (a b : Nat) (h : a = b) : b = a := by
  subst h; rfl

theorem three (p : Prop) (hp : p) : p ∧ p ∧ p := by
  refine ⟨?_, ?_, ?_⟩ <;> exact hp

theorem multi_line_then_all (p : Prop) (hp : p) : p ∧ p := by
  constructor <;>
  exact hp

theorem semicolon_in_brackets (p : Prop) (hp : p) : p ∧ p := by
  exact ⟨by exact hp, (by skip; exact hp)⟩
