/-!
# Module documentation

theorem not_a_declaration : False := sorry
-/

-- theorem commented_out : False := sorry

/- A block comment /- with a nested one
   theorem nested_comment : False := by sorry -/
   still inside the outer comment -/

/-- The doc comment belongs to the theorem after it. `by sorry` here is text. -/
theorem documented (p : Prop) (hp : p) : p := by
  -- a line comment between steps, at column 0 below
-- less indented comment
  skip /- trailing block comment -/
  /- a comment
     spanning lines -/
  exact hp
  /- comment -/ skip

theorem comment_in_middle : True := by /- c -/ trivial
