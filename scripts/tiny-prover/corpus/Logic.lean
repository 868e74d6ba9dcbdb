/-! Propositional and first-order logic: `intro`, `exact`, `constructor`, `cases`, bullets. -/

theorem swap_conjunction (p q : Prop) (h : p ∧ q) : q ∧ p := by
  constructor
  · exact h.2
  · exact h.1

theorem swap_conjunction_term (p q : Prop) (h : p ∧ q) : q ∧ p := by
  exact ⟨h.2, h.1⟩

theorem swap_disjunction (p q : Prop) (h : p ∨ q) : q ∨ p := by
  cases h with
  | inl hp => exact Or.inr hp
  | inr hq => exact Or.inl hq

theorem imp_self_example (p : Prop) : p → p := by
  intro hp
  exact hp

theorem imp_trans_example (p q r : Prop) (hpq : p → q) (hqr : q → r) : p → r := by
  intro hp
  exact hqr (hpq hp)

theorem modus_ponens_example (p q : Prop) (hp : p) (hpq : p → q) : q := by
  exact hpq hp

theorem conjunction_left (p q : Prop) (h : p ∧ q) : p := by
  exact h.1

theorem conjunction_right (p q : Prop) (h : p ∧ q) : q := by
  exact h.2

theorem conjunction_intro_example (p q : Prop) (hp : p) (hq : q) : p ∧ q := by
  exact ⟨hp, hq⟩

theorem disjunction_intro_left (p q : Prop) (hp : p) : p ∨ q := by
  exact Or.inl hp

theorem disjunction_intro_right (p q : Prop) (hq : q) : p ∨ q := by
  exact Or.inr hq

theorem double_negation_intro (p : Prop) (hp : p) : ¬¬p := by
  intro hnp
  exact hnp hp

theorem contrapositive_example (p q : Prop) (hpq : p → q) (hnq : ¬q) : ¬p := by
  intro hp
  exact hnq (hpq hp)

theorem absurd_example (p q : Prop) (hp : p) (hnp : ¬p) : q := by
  exact absurd hp hnp

theorem false_elim_example (p : Prop) (h : False) : p := by
  exact h.elim

theorem true_and_intro (p : Prop) (hp : p) : True ∧ p := by
  constructor
  · trivial
  · exact hp

theorem iff_swap_example (p q : Prop) (h : p ↔ q) : q ↔ p := by
  constructor
  · intro hq
    exact h.2 hq
  · intro hp
    exact h.1 hp

theorem iff_refl_example (p : Prop) : p ↔ p := by
  exact Iff.rfl

theorem conjunction_assoc (p q r : Prop) (h : (p ∧ q) ∧ r) : p ∧ (q ∧ r) := by
  exact ⟨h.1.1, h.1.2, h.2⟩

theorem disjunction_elim_example (p q r : Prop) (h : p ∨ q) (hpr : p → r) (hqr : q → r) : r := by
  cases h with
  | inl hp => exact hpr hp
  | inr hq => exact hqr hq

theorem and_or_distrib_example (p q r : Prop) (h : p ∧ (q ∨ r)) : (p ∧ q) ∨ (p ∧ r) := by
  cases h.2 with
  | inl hq => exact Or.inl ⟨h.1, hq⟩
  | inr hr => exact Or.inr ⟨h.1, hr⟩

theorem not_or_intro_example (p q : Prop) (hnp : ¬p) (hnq : ¬q) : ¬(p ∨ q) := by
  intro h
  cases h with
  | inl hp => exact hnp hp
  | inr hq => exact hnq hq

theorem curry_example (p q r : Prop) (h : p ∧ q → r) : p → q → r := by
  intro hp hq
  exact h ⟨hp, hq⟩

theorem uncurry_example (p q r : Prop) (h : p → q → r) : p ∧ q → r := by
  intro hpq
  exact h hpq.1 hpq.2

theorem and_imp_apply (p q r : Prop) (h : p ∧ q → r) (hp : p) (hq : q) : r := by
  exact h ⟨hp, hq⟩

theorem imp_and_split (p q r : Prop) (h : p → q ∧ r) (hp : p) : r := by
  have hqr : q ∧ r := h hp
  exact hqr.2

theorem or_of_and_left (p q : Prop) (h : p ∧ q) : p ∨ q := by
  exact Or.inl h.1

theorem exists_add_two_eq_five : ∃ n : Nat, n + 2 = 5 := by
  exact ⟨3, rfl⟩

theorem exists_greater (n : Nat) : ∃ m, m > n := by
  refine ⟨n + 1, ?_⟩
  omega

theorem forall_add_zero : ∀ n : Nat, n + 0 = n := by
  intro n
  rfl

theorem exists_of_exists_and (p : Nat → Prop) (h : ∃ n, p n ∧ n > 0) : ∃ n, p n := by
  cases h with
  | intro n hn => exact ⟨n, hn.1⟩

theorem forall_and_left (p q : Nat → Prop) (h : ∀ n, p n ∧ q n) : ∀ n, p n := by
  intro n
  exact (h n).1

theorem eq_symm_example (a b : Nat) (h : a = b) : b = a := by
  exact h.symm

theorem eq_trans_rw (a b c : Nat) (h1 : a = b) (h2 : b = c) : a = c := by
  rw [h1, h2]

theorem congr_add_right (a b c : Nat) (h : a = b) : a + c = b + c := by
  rw [h]

theorem eq_five_of_eq (a b : Nat) (h : a = b) (hb : b = 5) : a = 5 := by
  rw [h]
  exact hb

theorem iff_add_one_eq_one (n : Nat) : n + 1 = 1 ↔ n = 0 := by
  constructor
  · intro h
    omega
  · intro h
    omega

theorem ne_zero_of_odd (n : Nat) (h : n % 2 = 1) : n ≠ 0 := by
  intro hn
  subst hn
  simp at h

theorem not_and_of_not_left (p q : Prop) (hnp : ¬p) : ¬(p ∧ q) := by
  intro h
  exact hnp h.1
