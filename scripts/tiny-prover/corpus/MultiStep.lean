/-! Longer proofs: several steps, `have`, `constructor` with bullets, `split`, nested cases. -/

def clampTen (n : Nat) : Nat := if n ≤ 10 then n else 10

theorem clampTen_le (n : Nat) : clampTen n ≤ 10 := by
  unfold clampTen
  split
  · omega
  · omega

theorem clampTen_of_le (n : Nat) (h : n ≤ 10) : clampTen n = n := by
  unfold clampTen
  simp [h]

theorem and_of_two_bounds (a b : Nat) (ha : a < 3) (hb : b < 3) : a + b < 6 ∧ a < 4 := by
  constructor
  · omega
  · omega

theorem bounds_with_have (x : Nat) (h1 : 2 ≤ x) (h2 : x ≤ 5) : 4 ≤ 2 * x ∧ 2 * x ≤ 10 := by
  have hlow : 4 ≤ 2 * x := by omega
  have hhigh : 2 * x ≤ 10 := by omega
  exact ⟨hlow, hhigh⟩

theorem sum_eq_of_parts (a b c : Nat) (h1 : a = 2 * c) (h2 : b = 3 * c) : a + b = 5 * c := by
  rw [h1, h2]
  omega

theorem split_or_bound (n : Nat) (h : n < 2) : n = 0 ∨ n = 1 := by
  omega

theorem cases_or_then_omega (a b : Nat) (h : a = 1 ∨ a = 2) (hb : b = a + 1) : b ≤ 3 := by
  cases h with
  | inl h1 =>
    subst h1
    omega
  | inr h2 =>
    subst h2
    omega

theorem intro_and_split (p q : Prop) (hp : p) (hq : q) : (p ∧ q) ∧ (q ∧ p) := by
  constructor
  · constructor
    · exact hp
    · exact hq
  · exact ⟨hq, hp⟩

theorem iff_of_two_implications (a : Nat) : a + 2 = 5 ↔ a = 3 := by
  constructor
  · intro h
    omega
  · intro h
    omega

theorem exists_double (n : Nat) : ∃ m, m = 2 * n ∧ m % 2 = 0 := by
  refine ⟨2 * n, rfl, ?_⟩
  omega

theorem le_of_forall_bound (f : Nat → Nat) (h : ∀ n, f n ≤ n) : f 3 + f 4 ≤ 7 := by
  have h3 : f 3 ≤ 3 := h 3
  have h4 : f 4 ≤ 4 := h 4
  omega

theorem cases_nat_zero_or_succ (n : Nat) (h : n ≠ 0) : ∃ m, n = m + 1 := by
  cases n with
  | zero => exact absurd rfl h
  | succ m => exact ⟨m, rfl⟩

theorem list_cases_length (l : List Nat) (h : l.length = 1) : ∃ x, l = [x] := by
  cases l with
  | nil => simp at h
  | cons x xs =>
    cases xs with
    | nil => exact ⟨x, rfl⟩
    | cons y ys => simp at h

theorem bool_cases_then_simp (b : Bool) (n : Nat) : (if b then n else n) = n := by
  cases b with
  | false => rfl
  | true => rfl

theorem have_then_calc (a b : Nat) (h : a + 1 = b) : 2 * a + 2 = 2 * b := by
  have hb : b = a + 1 := h.symm
  calc 2 * a + 2 = 2 * (a + 1) := by omega
    _ = 2 * b := by rw [hb]

theorem transitivity_steps (a b c : Nat) (h1 : a < b) (h2 : b < c) : a + 1 < c := by
  have h3 : a + 1 ≤ b := h1
  have h4 : b < c := h2
  omega

theorem and_elim_steps (p q r : Prop) (h : p ∧ q ∧ r) : r ∧ p := by
  have hp : p := h.1
  have hr : r := h.2.2
  exact ⟨hr, hp⟩

theorem or_cases_steps (n : Nat) (h : n = 0 ∨ n = 5) : n ≤ 5 := by
  cases h with
  | inl h0 => omega
  | inr h5 => omega

theorem intro_cases_exact (p q : Prop) : p ∨ q → q ∨ p := by
  intro h
  cases h with
  | inl hp => exact Or.inr hp
  | inr hq => exact Or.inl hq

inductive BinTree where
  | leaf : BinTree
  | node : BinTree → Nat → BinTree → BinTree

def BinTree.size : BinTree → Nat
  | leaf => 0
  | node l _ r => l.size + 1 + r.size

def BinTree.mirror : BinTree → BinTree
  | leaf => leaf
  | node l v r => node r.mirror v l.mirror

theorem BinTree.size_leaf : BinTree.leaf.size = 0 := by
  rfl

theorem BinTree.size_mirror (t : BinTree) : t.mirror.size = t.size := by
  induction t with
  | leaf => rfl
  | node l v r ihl ihr =>
    simp only [BinTree.mirror, BinTree.size, ihl, ihr]
    omega

theorem BinTree.mirror_mirror (t : BinTree) : t.mirror.mirror = t := by
  induction t with
  | leaf => rfl
  | node l v r ihl ihr => simp [BinTree.mirror, ihl, ihr]
