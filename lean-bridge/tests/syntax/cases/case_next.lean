theorem case_tags (p q : Prop) (h : p ∨ q) : q ∨ p := by
  cases h
  case inl hp =>
    right
    exact hp
  case inr hq => left; exact hq

theorem next_blocks (p q : Prop) (h : p ∨ q) : q ∨ p := by
  cases h
  next hp => exact Or.inr hp
  next hq =>
    exact Or.inl hq

theorem case_alternatives (p : Prop) (h : p ∨ p) : p := by
  cases h
  case inl h | inr h => exact h

theorem case_prime (p : Prop) (h : p ∨ p) : p := by
  rcases h with h | h
  case' inl => exact h
  all_goals exact h
