theorem unfinished (p : Prop) (hp : p) : p := by

theorem next_one (p : Prop) (hp : p) : p := by
  have h : p := by
  exact hp

theorem trailing_by (p : Prop) (hp : p) : p ∧ p := by
  constructor
  · exact hp
  ·
