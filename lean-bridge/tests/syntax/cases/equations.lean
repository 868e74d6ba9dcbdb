def fib : Nat → Nat
  | 0 => 0
  | 1 => 1
  | n + 2 => fib n + fib (n + 1)

def withProofs : (n : Nat) → n = n
  | 0 => rfl
  | n + 1 => by
    simp

def one_line : Nat → Nat | 0 => 1 | _ => 2

def ackermann : Nat → Nat → Nat
  | 0, n => n + 1
  | m + 1, 0 => ackermann m 1
  | m + 1, n + 1 => ackermann m (ackermann (m + 1) n)
termination_by m n => (m, n)

def countdown (n : Nat) : List Nat :=
  if h : n = 0 then [] else n :: countdown (n - 1)
decreasing_by
  omega
