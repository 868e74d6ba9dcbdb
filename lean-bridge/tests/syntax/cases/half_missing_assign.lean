theorem no_body (p : Prop) : p

theorem no_assign_but_tactics (p : Prop) (hp : p) : p
  exact hp

theorem nothing_after_assign : True :=

def fine : Nat := 1

theorem
