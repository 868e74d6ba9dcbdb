import Examples.Recursion

/-!
# Lists

Uses `sumList` from `Examples.Recursion`.
-/

theorem list_length_append_example (xs ys : List Nat) : (xs ++ ys).length = xs.length + ys.length := by
  simp

theorem list_reverse_reverse_example (l : List Nat) : l.reverse.reverse = l := by
  sorry

theorem sumList_singleton (x : Nat) : sumList [x] = x := by
  sorry
