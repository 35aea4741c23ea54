"""Routing's application layer: the use cases, run inside a unit of work over the pure domain.

- `router`: `Router` — intake's case events (a batch at a time), bureau commands, reads, and
  the emission of every event on its internal topic and each audience bureau's egress topic;
- `commands`: a bureau's commands, from its ingress topic (in order, each with its record as
  cause) or from the HTTP API (once per Idempotency-Key, the refusal as a status).
"""
