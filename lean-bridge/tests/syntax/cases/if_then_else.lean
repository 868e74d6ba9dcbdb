theorem tactic_if (n : Nat) : n = n := by
  if h : n = 0 then
    subst h
    rfl
  else
    rfl

theorem tactic_if_one_line (p : Prop) [Decidable p] : p ∨ ¬p := by
  if h : p then exact Or.inl h else exact Or.inr h

theorem by_then_else (p : Prop) [Decidable p] : True := by
  exact if p then by trivial else by trivial
