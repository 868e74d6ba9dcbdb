example (𝔽 : Type) : True := by
	trivial
