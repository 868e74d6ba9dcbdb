def sumTo : Nat → Nat
  | 0 => 0
  | n + 1 => (n + 1) + sumTo n

theorem sumTo_le (n : Nat) : n ≤ sumTo n := by
  fun_induction sumTo n with
  | case1 => simp
  | case2 k ih =>
    simp only [sumTo]
    omega
