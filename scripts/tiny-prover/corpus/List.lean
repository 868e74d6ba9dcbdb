/-! Lists: the core `List` simp lemmas, definitional unfolding, and case analysis. -/

theorem list_append_nil_example (l : List Nat) : l ++ [] = l := by
  simp

theorem list_nil_append_example (l : List Nat) : [] ++ l = l := by
  rfl

theorem list_length_append_example (xs ys : List Nat) : (xs ++ ys).length = xs.length + ys.length := by
  simp

theorem list_length_cons_example (x : Nat) (xs : List Nat) : (x :: xs).length = xs.length + 1 := by
  rfl

theorem list_length_nil_example : ([] : List Nat).length = 0 := by
  rfl

theorem list_reverse_reverse_example (l : List Nat) : l.reverse.reverse = l := by
  simp

theorem list_length_reverse_example (l : List Nat) : l.reverse.length = l.length := by
  simp

theorem list_map_id_example (l : List Nat) : l.map (fun x => x) = l := by
  simp

theorem list_length_map_example (f : Nat → Nat) (l : List Nat) : (l.map f).length = l.length := by
  simp

theorem list_map_append_example (f : Nat → Nat) (xs ys : List Nat) : (xs ++ ys).map f = xs.map f ++ ys.map f := by
  simp

theorem list_append_assoc_example (xs ys zs : List Nat) : xs ++ ys ++ zs = xs ++ (ys ++ zs) := by
  simp

theorem list_reverse_append_example (xs ys : List Nat) : (xs ++ ys).reverse = ys.reverse ++ xs.reverse := by
  simp

theorem list_length_replicate_example (n x : Nat) : (List.replicate n x).length = n := by
  simp

theorem list_mem_cons_self_example (x : Nat) (xs : List Nat) : x ∈ x :: xs := by
  simp

theorem list_mem_append_left_example (x : Nat) (xs ys : List Nat) (h : x ∈ xs) : x ∈ xs ++ ys := by
  simp [h]

theorem list_mem_append_right_example (x : Nat) (xs ys : List Nat) (h : x ∈ ys) : x ∈ xs ++ ys := by
  simp [h]

theorem list_head_cons_example (x : Nat) (xs : List Nat) : (x :: xs).head? = some x := by
  rfl

theorem list_filter_nil_example (p : Nat → Bool) : ([] : List Nat).filter p = [] := by
  rfl

theorem list_map_nil_example (f : Nat → Nat) : ([] : List Nat).map f = [] := by
  rfl

theorem list_cons_ne_nil_example (x : Nat) (xs : List Nat) : x :: xs ≠ [] := by
  exact List.cons_ne_nil x xs

theorem list_cons_ne_nil_intro (x : Nat) (xs : List Nat) : x :: xs ≠ [] := by
  intro h
  cases h

theorem list_length_pos_of_mem (x : Nat) (l : List Nat) (h : x ∈ l) : 0 < l.length := by
  cases l with
  | nil => simp at h
  | cons y ys => exact Nat.succ_pos ys.length

theorem list_append_length_comm (xs ys : List Nat) : (xs ++ ys).length = (ys ++ xs).length := by
  simp only [List.length_append]
  omega

theorem list_length_append_three (xs ys zs : List Nat) : (xs ++ ys ++ zs).length = xs.length + ys.length + zs.length := by
  simp

theorem list_eq_nil_of_length_zero (l : List Nat) (h : l.length = 0) : l = [] := by
  cases l with
  | nil => rfl
  | cons x xs => simp at h

theorem list_length_singleton_example (x : Nat) : [x].length = 1 := by
  rfl

theorem list_reverse_singleton_example (x : Nat) : [x].reverse = [x] := by
  rfl

theorem list_length_of_eq_nil (l : List Nat) (h : l = []) : l.length = 0 := by
  simp [h]

theorem list_map_cons_example (f : Nat → Nat) (x : Nat) (xs : List Nat) : (x :: xs).map f = f x :: xs.map f := by
  rfl

theorem list_append_cons_example (x : Nat) (xs ys : List Nat) : (x :: xs) ++ ys = x :: (xs ++ ys) := by
  rfl

theorem list_mem_singleton_example (x y : Nat) (h : x ∈ [y]) : x = y := by
  simp at h
  exact h

theorem list_length_map_append (f : Nat → Nat) (xs ys : List Nat) : ((xs ++ ys).map f).length = xs.length + ys.length := by
  simp
