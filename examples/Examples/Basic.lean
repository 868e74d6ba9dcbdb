/-!
# Arithmetic on natural numbers

Some proofs here are finished and some are left as `sorry` for `proofwright check examples/`.
The tiny demo checkpoint (tests/fixtures/tiny-prover) memorised proofs of every statement here
except `mul_add_one_unseen`, which it has never seen.
-/

theorem add_zero_example (n : Nat) : n + 0 = n := by sorry

theorem add_comm_example (a b : Nat) : a + b = b + a := by
  omega

theorem add_comm_term (a b : Nat) : a + b = b + a := Nat.add_comm a b

theorem le_trans_example (a b c : Nat) (h1 : a ≤ b) (h2 : b ≤ c) : a ≤ c := by
  sorry

theorem bounds_with_have (x : Nat) (h1 : 2 ≤ x) (h2 : x ≤ 5) : 4 ≤ 2 * x ∧ 2 * x ≤ 10 := by
  have hlow : 4 ≤ 2 * x := by sorry
  have hhigh : 2 * x ≤ 10 := by omega
  exact ⟨hlow, hhigh⟩

theorem calc_add_one_le (a b c : Nat) (h1 : a ≤ b) (h2 : b ≤ c) : a + 1 ≤ c + 1 := by
  calc a + 1 ≤ b + 1 := by omega
    _ ≤ c + 1 := by omega

theorem mul_add_one_unseen (a b : Nat) : a * (b + 1) = a * b + a := by
  sorry
