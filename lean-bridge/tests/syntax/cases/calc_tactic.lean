theorem calc_first_on_line (a b c : Nat) (h₁ : a = b) (h₂ : b = c) : a = c := by
  calc a = b := h₁
    _ = c := by
      rw [h₂]

theorem calc_first_on_new_line (a b c d : Nat) (h₁ : a ≤ b) (h₂ : b ≤ c) (h₃ : c ≤ d) :
    a ≤ d := by
  calc
    a ≤ b := h₁
    _ ≤ c := by exact h₂
    _ ≤ d := by
      apply le_trans h₃
      exact le_refl d

theorem calc_underscores_at_block_column (a b c : Nat) (h₁ : a = b) (h₂ : b = c) : a = c := by
  calc a = b := h₁
  _ = c := h₂

theorem calc_then_more (a b : Nat) (h : a = b) : b = a ∧ True := by
  have : b = a := calc
      b = a := h.symm
  exact ⟨this, trivial⟩
