theorem dot_focus (p q : Prop) (hp : p) (hq : q) : p ∧ q := by
  constructor
  . exact hp
  . exact hq

theorem leading_dot_names (n : Nat) (h : n = 0 ∨ n ≠ 0) : True := by
  cases h with
  | inl h => exact .intro
  | inr h =>
    exact (.intro)
