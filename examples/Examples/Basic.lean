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

theorem gt_of_eq_add_two (a b : Nat) (h : a = b + 2) : a > b := by
  have hb : b < b + 2 := by sorry
  omega

theorem calc_add_one_le (a b c : Nat) (h1 : a ≤ b) (h2 : b ≤ c) : a + 1 ≤ c + 1 := by
  calc a + 1 ≤ b + 1 := by omega
    _ ≤ c + 1 := by omega

theorem mul_add_one_unseen (a b : Nat) : a * (b + 1) = a * b + a := by
  sorry
