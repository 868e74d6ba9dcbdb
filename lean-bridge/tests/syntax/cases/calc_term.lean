theorem term_calc (a b c : Nat) (h₁ : a < b) (h₂ : b < c) : a < c :=
  calc a < b := h₁
    _ < c := h₂

theorem term_calc_with_by (a b c : Nat) (h₁ : a = b) (h₂ : b = c) : a = c :=
  calc
    a = b := by rw [h₁]
    _ = c := by
      rw [h₂]
