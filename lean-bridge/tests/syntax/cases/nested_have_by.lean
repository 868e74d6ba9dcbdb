theorem nested_haves (p q r : Prop) (hp : p) (hpq : p → q) (hqr : q → r) : r := by
  have hq : q := by
    apply hpq
    exact hp
  have hr : r := by
    have hq' : q := by
      exact hq
    exact hqr hq'
  exact hr

theorem have_on_one_line (p : Prop) (hp : p) : p := by
  have h : p := by exact hp
  suffices h' : p by exact h'
  show p from by exact h
