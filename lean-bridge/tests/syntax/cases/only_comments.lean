-- Nothing but comments here.
/- theorem hidden : False := sorry -/
/-- a doc comment with no declaration after it -/
