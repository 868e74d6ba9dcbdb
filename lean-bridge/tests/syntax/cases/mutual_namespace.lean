namespace Outer

section Inner

variable {α : Type} (xs : List α)

mutual
  def isEven : Nat → Bool
    | 0 => true
    | n + 1 => isOdd n
  def isOdd : Nat → Bool
    | 0 => false
    | n + 1 => isEven n
end

  theorem indented_in_section (n : Nat) : n = n := by
    rfl

end Inner

noncomputable section

def inSection : Nat := 1

end

end Outer
