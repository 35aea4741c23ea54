"""Intake's application layer: the use cases, each in its own module, run in the caller's unit of work.

- `registration`: register validated reports a batch at a time (merge rule, sealing, ``case.opened``/``case.merged``);
- `ingress`: complaints and leads that arrived on Kafka, validated one by one and registered together.

Adapters (HTTP, Kafka, Postgres) call these; nothing here knows about a transport.
"""
