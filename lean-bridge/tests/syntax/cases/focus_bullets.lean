theorem and_swap (p q : Prop) (hp : p) (hq : q) : q ∧ p ∧ q := by
  constructor
  · exact hq
  · constructor
    · exact hp
    · exact hq

theorem bullet_then_more (p : Prop) (hp : p) : p ∧ p := by
  refine ⟨?_, ?_⟩
  · -- a comment inside a bullet
    exact hp
  ·
    exact hp
