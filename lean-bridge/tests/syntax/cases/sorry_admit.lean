theorem top_sorry : False := sorry

theorem tactic_sorry (p q : Prop) : p ∧ q := by
  constructor
  · sorry
  · have h : q := by
      admit
    exact h

theorem sorry_in_term (p : Prop) : p ∧ True := ⟨sorry, trivial⟩

#check (sorry : Nat)

theorem sorry_in_calc (a b : Nat) : a = b := by
  calc a = a := rfl
    _ = b := by sorry
