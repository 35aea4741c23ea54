"""Credit's application layer: one module per use case, each run inside one transaction
(`UnitOfWork`) whether the command came from Kafka or HTTP. No SQL here (adapters.postgres) and no
HTTP (adapters.http maps `app.errors` to problem documents).

- `decisions`: penalty decisions, set-based (`DecisionBatch`), with `revocation`, `referrals`,
  `matching` (which entity a party is), `listings` (the serious-violation list), `listing_steps`
  (listing proceedings opened in the batch; their steps over HTTP) and `prosecution` (以罚代刑);
- `disclosure`: publishing records, the public feed and the platform export;
- `records`: reading a record, expiry;
- `applications`: repair and early removal;
- `entities`: an entity's record, screening, name search.
"""
