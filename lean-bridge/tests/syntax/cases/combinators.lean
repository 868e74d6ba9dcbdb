theorem combinators (p q : Prop) (hp : p) (hq : q) : (p ∧ q) ∧ (q ∧ p) := by
  constructor
  all_goals constructor
  any_goals
    first
    | exact hp
    | exact hq
  try (simp; done)
  repeat assumption

theorem iterate_focus (p : Prop) (hp : p) : p ∧ p ∧ p := by
  refine ⟨?_, ?_, ?_⟩
  iterate 2 exact hp
  focus
    exact hp

theorem first_one_line (p : Prop) (hp : p) : p := by
  first | exact hp | assumption
