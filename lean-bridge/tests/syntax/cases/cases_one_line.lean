theorem or_comm' (p q : Prop) (h : p ∨ q) : q ∨ p := by
  cases h with | inl hp => exact Or.inr hp | inr hq => exact Or.inl hq

theorem or_comm'' (p q : Prop) (h : p ∨ q) : q ∨ p := by
  cases h with
  | inl hp =>
    apply Or.inr
    exact hp
  | inr hq => exact Or.inl hq

theorem cases_then_all (p q : Prop) (h : p ∧ q) : q ∧ p := by
  cases h <;> constructor <;> assumption
