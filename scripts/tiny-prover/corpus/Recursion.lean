/-! Recursive definitions of our own and proofs about them by induction. -/

def double : Nat → Nat
  | 0 => 0
  | n + 1 => double n + 2

theorem double_zero : double 0 = 0 := by
  rfl

theorem double_three : double 3 = 6 := by
  decide

theorem double_eq_two_mul (n : Nat) : double n = 2 * n := by
  induction n with
  | zero => rfl
  | succ n ih =>
    simp only [double]
    omega

theorem double_add_one (n : Nat) : double (n + 1) = double n + 2 := by
  rfl

def sumTo : Nat → Nat
  | 0 => 0
  | n + 1 => sumTo n + (n + 1)

theorem sumTo_zero : sumTo 0 = 0 := by
  rfl

theorem sumTo_four : sumTo 4 = 10 := by
  decide

theorem le_sumTo (n : Nat) : n ≤ sumTo n := by
  induction n with
  | zero => simp [sumTo]
  | succ n ih =>
    simp only [sumTo]
    omega

theorem sumTo_succ_ge (n : Nat) : sumTo (n + 1) ≥ sumTo n := by
  simp only [sumTo]
  omega

def sumList : List Nat → Nat
  | [] => 0
  | x :: xs => x + sumList xs

theorem sumList_nil : sumList [] = 0 := by
  rfl

theorem sumList_cons (x : Nat) (xs : List Nat) : sumList (x :: xs) = x + sumList xs := by
  rfl

theorem sumList_append (xs ys : List Nat) : sumList (xs ++ ys) = sumList xs + sumList ys := by
  induction xs with
  | nil => simp [sumList]
  | cons x xs ih => simp [sumList, ih, Nat.add_assoc]

theorem sumList_singleton (x : Nat) : sumList [x] = x := by
  simp [sumList]

def incAll : List Nat → List Nat
  | [] => []
  | x :: xs => (x + 1) :: incAll xs

theorem incAll_length (xs : List Nat) : (incAll xs).length = xs.length := by
  induction xs with
  | nil => simp [incAll]
  | cons x xs ih => simp [incAll, ih]

theorem incAll_append (xs ys : List Nat) : incAll (xs ++ ys) = incAll xs ++ incAll ys := by
  induction xs with
  | nil => simp [incAll]
  | cons x xs ih => simp [incAll, ih]

theorem sumList_incAll (xs : List Nat) : sumList (incAll xs) = sumList xs + xs.length := by
  induction xs with
  | nil => simp [incAll, sumList]
  | cons x xs ih =>
    simp only [incAll, sumList, List.length_cons]
    omega

def len : List Nat → Nat
  | [] => 0
  | _ :: xs => len xs + 1

theorem len_eq_length (xs : List Nat) : len xs = xs.length := by
  induction xs with
  | nil => rfl
  | cons x xs ih => simp [len, ih]

theorem len_append (xs ys : List Nat) : len (xs ++ ys) = len xs + len ys := by
  induction xs with
  | nil => simp [len]
  | cons x xs ih =>
    simp only [List.cons_append, len]
    omega

def pow2 : Nat → Nat
  | 0 => 1
  | n + 1 => 2 * pow2 n

theorem pow2_five : pow2 5 = 32 := by
  decide

theorem pow2_pos (n : Nat) : 0 < pow2 n := by
  induction n with
  | zero => decide
  | succ n ih =>
    simp only [pow2]
    omega

theorem succ_le_pow2 (n : Nat) : n + 1 ≤ pow2 n := by
  induction n with
  | zero => decide
  | succ n ih =>
    simp only [pow2]
    omega

def isEven : Nat → Bool
  | 0 => true
  | 1 => false
  | n + 2 => isEven n

theorem isEven_four : isEven 4 = true := by
  decide

theorem isEven_seven : isEven 7 = false := by
  decide

theorem isEven_add_two (n : Nat) : isEven (n + 2) = isEven n := by
  simp [isEven]

theorem isEven_double (n : Nat) : isEven (2 * n) = true := by
  induction n with
  | zero => rfl
  | succ n ih =>
    have h : 2 * (n + 1) = 2 * n + 2 := by omega
    rw [h, isEven_add_two]
    exact ih

def fib : Nat → Nat
  | 0 => 0
  | 1 => 1
  | n + 2 => fib n + fib (n + 1)

theorem fib_ten : fib 10 = 55 := by
  decide

theorem fib_add_two (n : Nat) : fib (n + 2) = fib n + fib (n + 1) := by
  simp [fib]

theorem fib_le_fib_add_two (n : Nat) : fib (n + 1) ≤ fib (n + 2) := by
  simp only [fib]
  omega

def zeros : Nat → List Nat
  | 0 => []
  | n + 1 => 0 :: zeros n

theorem zeros_length (n : Nat) : (zeros n).length = n := by
  induction n with
  | zero => rfl
  | succ n ih => simp [zeros, ih]

theorem sumList_zeros (n : Nat) : sumList (zeros n) = 0 := by
  induction n with
  | zero => rfl
  | succ n ih => simp [zeros, sumList, ih]

theorem zero_add_induction (n : Nat) : 0 + n = n := by
  induction n with
  | zero => simp
  | succ n ih => simp [ih]

theorem add_succ_induction (m n : Nat) : m + (n + 1) = (m + n) + 1 := by
  induction n with
  | zero => rfl
  | succ n ih => omega
