theorem deep (p : Prop) (hp : p) : p := by
  have h1 : p := by
    have h2 : p := by
      have h3 : p := by
        · · · exact hp
      exact h3
    exact h2
  exact (by exact (by exact (by exact h1)))
