/-! Order on the natural numbers: `≤` and `<`, with `omega`, `exact`, `apply` and `have`. -/

theorem le_refl_example (n : Nat) : n ≤ n := by
  exact Nat.le_refl n

theorem le_succ_example (n : Nat) : n ≤ n + 1 := by
  omega

theorem lt_succ_example (n : Nat) : n < n + 1 := by
  omega

theorem zero_le_example (n : Nat) : 0 ≤ n := by
  exact Nat.zero_le n

theorem le_trans_example (a b c : Nat) (h1 : a ≤ b) (h2 : b ≤ c) : a ≤ c := by
  exact Nat.le_trans h1 h2

theorem le_trans_apply (a b c : Nat) (h1 : a ≤ b) (h2 : b ≤ c) : a ≤ c := by
  apply Nat.le_trans h1
  exact h2

theorem lt_trans_example (a b c : Nat) (h1 : a < b) (h2 : b < c) : a < c := by
  omega

theorem lt_of_lt_of_le_example (a b c : Nat) (h1 : a < b) (h2 : b ≤ c) : a < c := by
  exact Nat.lt_of_lt_of_le h1 h2

theorem le_of_lt_example (a b : Nat) (h : a < b) : a ≤ b := by
  exact Nat.le_of_lt h

theorem le_add_right_example (a b : Nat) : a ≤ a + b := by
  omega

theorem le_add_left_example (a b : Nat) : b ≤ a + b := by
  omega

theorem add_le_add_example (a b c d : Nat) (h1 : a ≤ b) (h2 : c ≤ d) : a + c ≤ b + d := by
  exact Nat.add_le_add h1 h2

theorem add_lt_add_example (a b c d : Nat) (h1 : a < b) (h2 : c < d) : a + c < b + d := by
  omega

theorem succ_le_succ_example (a b : Nat) (h : a ≤ b) : a + 1 ≤ b + 1 := by
  exact Nat.succ_le_succ h

theorem lt_irrefl_example (n : Nat) : ¬n < n := by
  exact Nat.lt_irrefl n

theorem not_lt_zero_example (n : Nat) : ¬n < 0 := by
  omega

theorem pos_of_ne_zero_example (n : Nat) (h : n ≠ 0) : 0 < n := by
  omega

theorem le_antisymm_example (a b : Nat) (h1 : a ≤ b) (h2 : b ≤ a) : a = b := by
  exact Nat.le_antisymm h1 h2

theorem lt_of_add_one_le (a b : Nat) (h : a + 1 ≤ b) : a < b := by
  omega

theorem le_of_sum_le (a b c : Nat) (h : a + b ≤ c) : a ≤ c := by
  omega

theorem lt_add_of_pos_example (a b : Nat) (h : 0 < b) : a < a + b := by
  omega

theorem le_mul_two (n : Nat) : n ≤ 2 * n := by
  omega

theorem lt_or_ge_example (a b : Nat) : a < b ∨ a ≥ b := by
  omega

theorem le_total_example (a b : Nat) : a ≤ b ∨ b ≤ a := by
  omega

theorem ne_of_lt_example (a b : Nat) (h : a < b) : a ≠ b := by
  omega

theorem sub_lt_self_example (n : Nat) (h : 0 < n) : n - 1 < n := by
  omega

theorem sub_le_self_example (a b : Nat) : a - b ≤ a := by
  omega

theorem lt_succ_of_le_have (a b : Nat) (h : a ≤ b) : a < b + 1 := by
  have hb : b < b + 1 := by omega
  omega

theorem sum_le_twenty (a b : Nat) (ha : a ≤ 10) (hb : b ≤ 10) : a + b ≤ 20 := by
  have h : a + b ≤ 10 + 10 := Nat.add_le_add ha hb
  omega

theorem sum_lt_ten (x y : Nat) (hx : x < 5) (hy : y < 5) : x + y < 10 := by
  have h : x + y < 5 + 5 := Nat.add_lt_add hx hy
  omega

theorem gt_of_eq_add_two (a b : Nat) (h : a = b + 2) : a > b := by
  have hb : b < b + 2 := by
    omega
  omega

theorem le_of_le_of_eq_example (a b c : Nat) (h1 : a ≤ b) (h2 : b = c) : a ≤ c := by
  rw [← h2]
  exact h1

theorem max_le_example (a b c : Nat) (ha : a ≤ c) (hb : b ≤ c) : max a b ≤ c := by
  omega

theorem le_min_example (a b c : Nat) (hb : a ≤ b) (hc : a ≤ c) : a ≤ min b c := by
  omega

theorem two_le_of_one_lt (n : Nat) (h : 1 < n) : 2 ≤ n := by
  omega

theorem mul_three_le_mul_three (a b : Nat) (h : a ≤ b) : a * 3 ≤ b * 3 := by
  omega

theorem le_chain_have (a b c d : Nat) (h1 : a ≤ b) (h2 : b ≤ c) (h3 : c ≤ d) : a ≤ d := by
  have hac : a ≤ c := Nat.le_trans h1 h2
  exact Nat.le_trans hac h3
