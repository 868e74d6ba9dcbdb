/-! Booleans: case analysis on `Bool`, `simp` with the core `Bool` lemmas, and `decide`. -/

theorem bool_and_true (b : Bool) : (b && true) = b := by
  simp

theorem bool_true_and (b : Bool) : (true && b) = b := by
  simp

theorem bool_or_false (b : Bool) : (b || false) = b := by
  simp

theorem bool_false_or (b : Bool) : (false || b) = b := by
  simp

theorem bool_and_false_cases (b : Bool) : (b && false) = false := by
  cases b <;> rfl

theorem bool_or_true_cases (b : Bool) : (b || true) = true := by
  cases b <;> rfl

theorem bool_not_not_cases (b : Bool) : (!!b) = b := by
  cases b <;> rfl

theorem bool_and_comm_cases (a b : Bool) : (a && b) = (b && a) := by
  cases a <;> cases b <;> rfl

theorem bool_or_comm_cases (a b : Bool) : (a || b) = (b || a) := by
  cases a <;> cases b <;> rfl

theorem bool_and_self_cases (b : Bool) : (b && b) = b := by
  cases b with
  | false => rfl
  | true => rfl

theorem bool_or_self_cases (b : Bool) : (b || b) = b := by
  cases b with
  | false => rfl
  | true => rfl

theorem bool_and_assoc_cases (a b c : Bool) : ((a && b) && c) = (a && (b && c)) := by
  cases a <;> cases b <;> cases c <;> rfl

theorem bool_not_and_cases (a b : Bool) : (!(a && b)) = (!a || !b) := by
  cases a <;> cases b <;> rfl

theorem bool_not_or_cases (a b : Bool) : (!(a || b)) = (!a && !b) := by
  cases a <;> cases b <;> rfl

theorem bool_and_not_self_cases (b : Bool) : (b && !b) = false := by
  cases b <;> rfl

theorem bool_or_not_self_cases (b : Bool) : (b || !b) = true := by
  cases b <;> rfl

theorem bool_xor_self_cases (b : Bool) : Bool.xor b b = false := by
  cases b <;> rfl

theorem bool_eq_true_or_false (b : Bool) : b = true ∨ b = false := by
  cases b with
  | false => exact Or.inr rfl
  | true => exact Or.inl rfl

theorem bool_true_ne_false : true ≠ false := by
  decide

theorem bool_and_closed : (true && false) = false := by
  decide

theorem bool_or_closed : (false || true) = true := by
  rfl

theorem bool_not_eq_true_of_false (b : Bool) (h : b = false) : (!b) = true := by
  simp [h]

theorem bool_or_eq_true_of_left (a b : Bool) (h : a = true) : (a || b) = true := by
  simp [h]

theorem bool_left_of_and_eq_true (a b : Bool) (h : (a && b) = true) : a = true := by
  simp at h
  exact h.1

theorem bool_right_of_and_eq_true (a b : Bool) (h : (a && b) = true) : b = true := by
  simp at h
  exact h.2

theorem decide_eq_true_of_eq (n : Nat) (h : n = 3) : decide (n = 3) = true := by
  simp [h]

theorem bool_cond_true (a b : Nat) : (if true = true then a else b) = a := by
  simp

theorem bool_ne_true_cases (b : Bool) (h : b ≠ true) : b = false := by
  cases b with
  | false => rfl
  | true => exact absurd rfl h
