import Mathlib.Tactic

open Nat

namespace Basic

theorem add_zero' (n : Nat) : n + 0 = n := by
  simp

lemma zero_add' (n : Nat) : 0 + n = n := Nat.zero_add n

def double (x : Nat) : Nat := 2 * x

example : double 2 = 4 := rfl

instance : Inhabited Nat := ⟨0⟩

instance (priority := 100) natInhabited : Inhabited Nat := ⟨1⟩

abbrev NatPair := Nat × Nat

axiom choice_like : ∀ α : Type, Nonempty α → α

opaque secret : Nat

structure Point where
  x : Nat
  y : Nat
  deriving Repr

class Shape (α : Type) where
  area : α → Nat

inductive Color
  | red
  | green

class inductive Decidable' (p : Prop) where
  | isFalse (h : ¬p)
  | isTrue (h : p)

end Basic
