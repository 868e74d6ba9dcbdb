theorem tactic_match (n : Nat) : n = n := by
  match n with
  | 0 => rfl
  | k + 1 =>
    have : k + 1 = k + 1 := by rfl
    exact this

theorem term_match_in_exact (n : Nat) : n = n := by
  exact match n with
    | 0 => rfl
    | _ + 1 => by rfl

theorem term_match (p : Prop) (h : p ∨ p) : p :=
  match h with
  | .inl hp => by exact hp
  | .inr hp => hp

theorem intro_alternatives : ∀ n : Nat, n = n := by
  intro
  | 0 => rfl
  | _ + 1 => rfl
