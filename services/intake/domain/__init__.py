"""Intake's rules, free of I/O: validating and normalising complaints and
leads, the merge key of a suspect, whether a report opens a case or joins an
open one, tracking numbers and the status read out to a caller.

Nothing here imports a database, broker or web library; time comes in as a
parameter (`now`) so the rules can be tested at any date.
"""
