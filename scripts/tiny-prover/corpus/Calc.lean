/-! Chains of equalities and inequalities with `calc`. -/

theorem calc_eq_chain (a b c : Nat) (h1 : a = b) (h2 : b = c) : a = c := by
  calc a = b := h1
    _ = c := h2

theorem calc_eq_chain_four (a b c d : Nat) (h1 : a = b) (h2 : b = c) (h3 : c = d) : a = d := by
  calc a = b := h1
    _ = c := h2
    _ = d := h3

theorem calc_le_chain (a b c : Nat) (h1 : a ≤ b) (h2 : b ≤ c) : a ≤ c := by
  calc a ≤ b := h1
    _ ≤ c := h2

theorem calc_lt_le (a b c : Nat) (h1 : a < b) (h2 : b ≤ c) : a < c := by
  calc a < b := h1
    _ ≤ c := h2

theorem calc_le_lt (a b c : Nat) (h1 : a ≤ b) (h2 : b < c) : a < c := by
  calc a ≤ b := h1
    _ < c := h2

theorem calc_add_one_le (a b c : Nat) (h1 : a ≤ b) (h2 : b ≤ c) : a + 1 ≤ c + 1 := by
  calc a + 1 ≤ b + 1 := by omega
    _ ≤ c + 1 := by omega

theorem calc_mul_comm_add (a b c : Nat) : a * b + c = c + b * a := by
  calc a * b + c = b * a + c := by rw [Nat.mul_comm]
    _ = c + b * a := by rw [Nat.add_comm]

theorem calc_double_le (a b : Nat) (h : a ≤ b) : 2 * a ≤ a + b := by
  calc 2 * a = a + a := by omega
    _ ≤ a + b := by omega

theorem calc_block_style (a b : Nat) (h : a = b + 1) : a + a = 2 * b + 2 := by
  calc
    a + a = (b + 1) + (b + 1) := by rw [h]
    _ = 2 * b + 2 := by omega

theorem calc_sub_add (a b : Nat) (h : b ≤ a) : a - b + b = a := by
  calc a - b + b = a := by omega

theorem calc_three_steps (x y : Nat) (hx : x = 2) (hy : y = x + 3) : y = 5 := by
  calc y = x + 3 := hy
    _ = 2 + 3 := by rw [hx]
    _ = 5 := by rfl

theorem calc_list_length (xs ys : List Nat) : (xs ++ ys).length = ys.length + xs.length := by
  calc (xs ++ ys).length = xs.length + ys.length := by simp
    _ = ys.length + xs.length := by omega

theorem calc_mul_le (a b : Nat) (h : a ≤ b) : 3 * a ≤ 3 * b := by
  calc 3 * a ≤ 3 * b := by omega

theorem calc_trans_lt (a b c d : Nat) (h1 : a < b) (h2 : b < c) (h3 : c < d) : a + 2 < d := by
  calc a + 2 < b + 2 := by omega
    _ ≤ c + 1 := by omega
    _ ≤ d := by omega

theorem calc_eq_symm_chain (a b c : Nat) (h1 : b = a) (h2 : c = b) : a = c := by
  calc a = b := h1.symm
    _ = c := h2.symm

theorem calc_distrib (a b c : Nat) : a * (b + c) = c * a + a * b := by
  calc a * (b + c) = a * b + a * c := Nat.left_distrib a b c
    _ = a * c + a * b := by rw [Nat.add_comm]
    _ = c * a + a * b := by rw [Nat.mul_comm a c]
