theorem anonymous_constructor (p q : Prop) (hp : p) (hq : q) : p ∧ q :=
  ⟨by exact hp, by exact hq⟩

theorem fun_by (p : Prop) : p → p :=
  fun h => by
    exact h

theorem by_in_tactic_term (p : Prop) (hp : p) : p ∧ p := by
  exact ⟨hp, by
    exact hp⟩

def withProof (n : Nat) : { m : Nat // m = n } := ⟨n, by rfl⟩

theorem if_term (p : Prop) [Decidable p] (hp : p) : p :=
  if h : p then by exact h else by exact hp
