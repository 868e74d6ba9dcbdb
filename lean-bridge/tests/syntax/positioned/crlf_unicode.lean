theorem t (a₁ : ℕ) : ∀ b, a₁ ≤ b → ⟨a₁, b⟩ = ⟨a₁, b⟩ := by
  intro b _
  · exact sorry
