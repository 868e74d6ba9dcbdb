instance : Add Bool where
  add a b := a || b

structure Pos where
  val : Nat
  pos : 0 < val

instance : OfNat Pos 1 where
  ofNat := ⟨1, by decide⟩

theorem uses_aux (n : Nat) : n ≤ n + 1 := by
  exact aux n
where
  aux (m : Nat) : m ≤ m + 1 := by
    omega
