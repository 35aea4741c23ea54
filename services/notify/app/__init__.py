"""Notify's application layer: the use cases, between the adapters and the pure domain.

- notices.py     consumed events → delivery rows and digest items (in the consumer's unit of work)
- dispatcher.py  claim, send and record deliveries; the sweep
- digests.py     assemble due digests into deliveries
- admin.py       delivery state and the directory, for the notify:admin HTTP API
"""
