"""Routing's pure domain: placement rules, deadlines, the case and referral state
machines, surge detection. Nothing here does I/O or reads the clock: callers
pass the reference data, the rules and ``now``."""
