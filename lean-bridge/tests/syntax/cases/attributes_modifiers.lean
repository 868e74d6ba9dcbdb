@[simp]
theorem simp_lemma (n : Nat) : n + 0 = n := rfl

@[simp, norm_cast] private lemma private_lemma : (1 : Nat) = 1 := rfl

/-- Documented and protected. -/
@[inline]
protected def Nat.myDouble (n : Nat) : Nat := n + n

noncomputable def choice' (α : Type) [Nonempty α] : α := Classical.choice inferInstance

set_option maxHeartbeats 400000 in
theorem heavy : True := trivial

open Nat in
theorem opened (n : Nat) : succ n = n + 1 := rfl

attribute [simp] opened

local notation "𝟙" => (1 : Nat)

scoped instance localInst : Inhabited Nat := ⟨0⟩

deriving instance Repr for Nat
