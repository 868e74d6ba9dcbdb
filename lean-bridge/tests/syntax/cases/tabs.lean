theorem tabs (p : Prop) (hp : p) : p ∧ p := by
	constructor
	· exact hp
	·	exact hp

theorem spaces_after : True := by
  trivial
