def broken : String := "no closing quote
theorem still_seen : True := by
  trivial
