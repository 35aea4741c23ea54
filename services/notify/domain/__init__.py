"""Notify's pure rules: the recipient directory, which notices an event makes,
delivery planning, the retry policy, outcome classification, circuit breakers
and digests. Nothing here does I/O."""
