/-! Closed facts that Lean computes: `decide` and `rfl` on numerals, lists and booleans. -/

theorem two_add_two : 2 + 2 = 4 := by
  decide

theorem seven_mul_eight : 7 * 8 = 56 := by
  decide

theorem ten_lt_twenty : 10 < 20 := by
  decide

theorem hundred_sub : 100 - 37 = 63 := by
  decide

theorem seventeen_mod_five : 17 % 5 = 2 := by
  decide

theorem twenty_div_three : 20 / 3 = 6 := by
  decide

theorem two_pow_ten : 2 ^ 10 = 1024 := by
  decide

theorem five_ne_three : (5 : Nat) ≠ 3 := by
  decide

theorem three_dvd_twelve : 3 ∣ 12 := by
  exact ⟨4, rfl⟩

theorem not_five_dvd_twelve : ¬ 5 ∣ 12 := by
  omega

theorem max_three_five : max 3 5 = 5 := by
  decide

theorem min_three_five : min 3 5 = 3 := by
  decide

theorem succ_four : Nat.succ 4 = 5 := by
  rfl

theorem list_length_three : [1, 2, 3].length = 3 := by
  rfl

theorem list_append_closed : [1, 2] ++ [3] = [1, 2, 3] := by
  rfl

theorem list_reverse_closed : [3, 1, 2].reverse = [2, 1, 3] := by
  rfl

theorem list_map_double_closed : [1, 2, 3].map (fun x => 2 * x) = [2, 4, 6] := by
  rfl

theorem list_mem_closed : 2 ∈ [1, 2, 3] := by
  simp

theorem list_not_mem_closed : 5 ∉ [1, 2, 3] := by
  decide

theorem bool_not_true : (!true) = false := by
  rfl

theorem bool_and_or_closed : ((true && false) || true) = true := by
  decide

theorem closed_and_fact : 1 < 2 ∧ 2 < 3 := by
  decide

theorem closed_or_fact : 3 = 4 ∨ 4 = 4 := by
  decide

theorem closed_implication : 2 < 1 → 5 = 6 := by
  decide

theorem closed_arith_omega : 12 * 12 = 144 := by
  omega

theorem closed_le_simp : 3 ≤ 3 + 4 := by
  simp
