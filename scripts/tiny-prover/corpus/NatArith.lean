/-! Natural-number identities, proved with `simp`, `omega`, `rfl` and core `Nat` lemmas. -/

theorem add_zero_example (n : Nat) : n + 0 = n := by
  simp

theorem add_zero_rfl (n : Nat) : n + 0 = n := by
  rfl

theorem zero_add_example (n : Nat) : 0 + n = n := by
  simp

theorem add_comm_example (a b : Nat) : a + b = b + a := by
  omega

theorem add_comm_rw (a b : Nat) : a + b = b + a := by
  rw [Nat.add_comm]

theorem add_comm_exact (a b : Nat) : a + b = b + a := by
  exact Nat.add_comm a b

theorem add_assoc_example (a b c : Nat) : a + b + c = a + (b + c) := by
  rw [Nat.add_assoc]

theorem add_assoc_four (a b c d : Nat) : a + b + c + d = a + (b + (c + d)) := by
  simp only [Nat.add_assoc]

theorem add_right_comm_example (a b c : Nat) : a + b + c = a + c + b := by
  omega

theorem mul_comm_example (a b : Nat) : a * b = b * a := by
  exact Nat.mul_comm a b

theorem mul_assoc_example (a b c : Nat) : a * b * c = a * (b * c) := by
  exact Nat.mul_assoc a b c

theorem mul_one_example (n : Nat) : n * 1 = n := by
  simp

theorem one_mul_example (n : Nat) : 1 * n = n := by
  simp

theorem mul_zero_example (n : Nat) : n * 0 = 0 := by
  rfl

theorem zero_mul_example (n : Nat) : 0 * n = 0 := by
  simp

theorem left_distrib_example (a b c : Nat) : a * (b + c) = a * b + a * c := by
  exact Nat.left_distrib a b c

theorem right_distrib_example (a b c : Nat) : (a + b) * c = a * c + b * c := by
  exact Nat.right_distrib a b c

theorem two_mul_eq_add (n : Nat) : 2 * n = n + n := by
  omega

theorem mul_two_eq_add (n : Nat) : n * 2 = n + n := by
  omega

theorem three_mul_eq_add (n : Nat) : 3 * n = n + n + n := by
  omega

theorem succ_eq_add_one_example (n : Nat) : Nat.succ n = n + 1 := by
  rfl

theorem add_one_ne_zero_example (n : Nat) : n + 1 ≠ 0 := by
  omega

theorem succ_ne_zero_exact (n : Nat) : n + 1 ≠ 0 := by
  exact Nat.succ_ne_zero n

theorem add_sub_cancel_example (a b : Nat) : a + b - b = a := by
  omega

theorem sub_self_example (n : Nat) : n - n = 0 := by
  simp

theorem sub_zero_example (n : Nat) : n - 0 = n := by
  rfl

theorem add_left_cancel_example (a b c : Nat) (h : a + b = a + c) : b = c := by
  omega

theorem add_right_cancel_example (a b c : Nat) (h : a + c = b + c) : a = b := by
  omega

theorem succ_add_example (a b : Nat) : a + 1 + b = a + b + 1 := by
  omega

theorem add_self_mod_two (n : Nat) : (n + n) % 2 = 0 := by
  omega

theorem mod_two_cases (n : Nat) : n % 2 = 0 ∨ n % 2 = 1 := by
  omega

theorem div_two_mul_add_mod (n : Nat) : n / 2 * 2 + n % 2 = n := by
  omega

theorem max_self_example (n : Nat) : max n n = n := by
  omega

theorem min_le_left_example (a b : Nat) : min a b ≤ a := by
  omega

theorem max_comm_example (a b : Nat) : max a b = max b a := by
  omega

theorem mul_comm_add_comm (a b c : Nat) : a * b + c = c + b * a := by
  rw [Nat.mul_comm a b, Nat.add_comm]

theorem eq_of_add_eq_add (a b : Nat) (h : a + 3 = b + 3) : a = b := by
  omega

theorem double_sub_self (n : Nat) : 2 * n - n = n := by
  omega

theorem add_mul_two (a b : Nat) : (a + b) * 2 = 2 * a + 2 * b := by
  omega
