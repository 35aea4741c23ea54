"""Routing: assigns cases to bureaus, tracks legal deadlines, runs the
administrative → criminal referral, and watches for surges (see docs/routing.md)."""
