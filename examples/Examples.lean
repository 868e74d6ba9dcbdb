import Examples.Basic
import Examples.Logic
import Examples.Recursion
import Examples.Lists
