theorem patterns (p q : Prop) (h : (p ∧ q) ∨ q) (hx : ∃ n : Nat, n = 0) : q := by
  obtain ⟨n, hn⟩ := hx
  rcases h with ⟨_, hq⟩ | hq
  · exact hq
  · exact hq

theorem obtain_by (p : Prop) (hp : p) : p := by
  obtain ⟨x, hx⟩ : ∃ x : Nat, x = x := by
    exact ⟨0, rfl⟩
  clear hx
  exact hp

theorem rintro_bars (p q : Prop) : p ∨ q → q ∨ p := by
  rintro (hp | hq)
  · exact Or.inr hp
  · exact Or.inl hq
