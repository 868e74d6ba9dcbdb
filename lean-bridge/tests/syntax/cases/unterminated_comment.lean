theorem before_comment : True := trivial

/- this comment never ends
theorem inside_comment : True := trivial
