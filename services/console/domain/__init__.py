"""The console's pure rules: roles and the principals they map to, sign-in lockout, the worklist's
order and urgency, the public lookup's second factor, and the page texts (zh first, en)."""
