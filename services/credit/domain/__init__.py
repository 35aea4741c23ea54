"""Credit's pure rules: no database, broker or web imports here.

- `names`: enterprise-name normalisation (region prefix, legal-form suffix);
- `records`: heavy-penalty classification and publicity periods of a record;
- `blacklist`: the serious-violation list rules and list periods;
- `listing_steps`: the Order 44 steps before a listing takes effect, as states with deadlines;
- `prosecution`: 以罚代刑 — a penalty on figures over a criminal threshold with no referral under way;
- `applications`: eligibility for credit repair and early removal;
- `measures`: which joint-punishment measures apply to an entity;
- `disclosure`: the masked public rows and their CSV form;
- `search`: the in-memory name index with scored, explained candidates.

Every function that depends on time takes `now` (or a date) from its caller.
"""
