theorem a1 : True := by
  simp [foo,
  exact bar

theorem a2 : True := trivial

/-- doc -/
lemma a3 : False := by
  induction n with
  | zero => (
  | succ => rfl

theorem a4 : True := trivial
def a5 := 1
