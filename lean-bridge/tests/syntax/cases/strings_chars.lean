def greeting : String := "theorem in a string := by sorry"

def quote : Char := '\''

def letter : Char := 'a'

def escaped : String := "a \"quoted\" by sorry"

def interpolated (n : Nat) : String := s!"n = {n} and {"nested by sorry"}"

def raw : String := r#"raw "by" sorry"#

theorem after_strings : True := by
  have : "sorry".length = 5 := by decide
  trivial
