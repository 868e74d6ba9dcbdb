/-!
# Propositional logic

Introduction and elimination rules, with `sorry`s left for the prover.
-/

theorem swap_conjunction (p q : Prop) (h : p ∧ q) : q ∧ p := by
  constructor
  · exact h.2
  · exact h.1

theorem swap_disjunction (p q : Prop) (h : p ∨ q) : q ∨ p := by
  sorry

theorem iff_swap_example (p q : Prop) (h : p ↔ q) : q ↔ p := by
  constructor
  · intro hq
    exact h.2 hq
  · intro hp
    sorry

theorem contrapositive_example (p q : Prop) (hpq : p → q) (hnq : ¬q) : ¬p := by
  intro hp
  sorry

theorem bool_and_comm_cases (a b : Bool) : (a && b) = (b && a) := by sorry
