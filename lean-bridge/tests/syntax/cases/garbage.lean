)))]]] := => | | · ; <;> ⟩ ⟩
by by by calc
  _ = := by
theorem after_garbage : True := by
  ))) trivial
#eval 1 + 1
