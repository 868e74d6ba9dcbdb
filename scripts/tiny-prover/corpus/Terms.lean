/-! Term-mode proofs: the proof is a term after `:=`, no tactic block. -/

theorem add_zero_term (n : Nat) : n + 0 = n := rfl

theorem add_comm_term (a b : Nat) : a + b = b + a := Nat.add_comm a b

theorem swap_conjunction_anon (p q : Prop) (h : p ∧ q) : q ∧ p := ⟨h.2, h.1⟩

theorem imp_trans_term (p q r : Prop) (hpq : p → q) (hqr : q → r) : p → r := fun hp => hqr (hpq hp)

theorem le_trans_term (a b c : Nat) (h1 : a ≤ b) (h2 : b ≤ c) : a ≤ c := Nat.le_trans h1 h2

theorem disjunction_left_term (p q : Prop) (hp : p) : p ∨ q := Or.inl hp

theorem list_nil_append_term (l : List Nat) : [] ++ l = l := rfl

theorem two_add_three_term : 2 + 3 = 5 := rfl

theorem exists_three_term : ∃ n : Nat, n * 2 = 6 := ⟨3, rfl⟩

theorem iff_refl_term (p : Prop) : p ↔ p := Iff.rfl
