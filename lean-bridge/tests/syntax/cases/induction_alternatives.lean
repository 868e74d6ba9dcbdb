theorem add_zero_induction (n : Nat) : n + 0 = n := by
  induction n with
  | zero => rfl
  | succ k ih =>
    simp
    omega

theorem deeper_alternatives (n m : Nat) : n + m = m + n := by
  induction n with
    | zero => simp
    | succ k ih =>
      induction m with
      | zero => simp
      | succ j _ =>
        rw [Nat.succ_add]
        omega
  done

theorem using_clause (n : Nat) : 0 ≤ n := by
  induction n using Nat.strong_induction_on with
  | _ n ih => exact Nat.zero_le n
