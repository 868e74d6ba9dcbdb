/-
Copyright (c) 2024. All rights reserved.
-/
import Mathlib.Analysis.SpecialFunctions.Pow.Real

/-!
# A realistic file
-/

open Real Filter

variable {x y : ℝ}

/-- Squares are nonnegative. -/
theorem sq_nonneg' (x : ℝ) : 0 ≤ x ^ 2 := by
  positivity

theorem abs_sub_lt (h₁ : |x - y| < 1) (h₂ : 0 ≤ x) : y < x + 1 := by
  have key : -1 < x - y ∧ x - y < 1 := abs_lt.mp h₁
  obtain ⟨hlo, hhi⟩ := key
  linarith

theorem exists_between' (h : x < y) : ∃ z, x < z ∧ z < y := by
  refine ⟨(x + y) / 2, ?_, ?_⟩
  · linarith
  · linarith

lemma tendsto_example : Tendsto (fun n : ℕ => (1 : ℝ) / (n + 1)) atTop (nhds 0) := by
  have h : ∀ n : ℕ, (0 : ℝ) < n + 1 := fun n => by positivity
  refine tendsto_one_div_add_atTop_nhds_zero_nat.congr' ?_
  filter_upwards with n
  rfl

theorem with_norm_num (n : ℕ) (hn : 2 ≤ n) : 4 ≤ n ^ 2 := by
  nlinarith [sq_nonneg (n - 2)]
