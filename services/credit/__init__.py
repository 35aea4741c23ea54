"""Credit: penalty decisions, the entity credit record, the serious-violation
list, joint punishment and the public disclosure feed (issue #5; docs/credit.md)."""
