theorem αβ_forall_exists (α : Type) (xs : List α) : ∀ x ∈ xs, ∃ y, y = x := by
  intro x _
  exact ⟨x, rfl⟩

theorem le_chain (a₁ a₂ a₃ : ℕ) (h₁ : a₁ ≤ a₂) (h₂ : a₂ ≤ a₃) : a₁ ≤ a₃ := by
  calc a₁ ≤ a₂ := h₁
    _ ≤ a₃ := h₂

theorem «weird name» (p : Prop) (hp : p) : p → p ∧ p := by
  intro h
  exact ⟨h, hp⟩

theorem emoji_in_comment (𝔽 : Type) : True := by -- 🎉 wide characters 𝔽
  trivial
