"""One identity and access store for every caller of every service.

- `model`: principals (kind, bureau, roles, scopes) — pure;
- `tokens`: the key format (``sd1_<key id>_<secret>``) and the legacy formats that keep working — pure;
- `store`: the ``identity`` schema's SQL and `IdentityDirectory` (bounded TTL cache: a revocation takes
  effect within its ttl, 5 s by default, in every service);
- `http`: `Authenticator`, the FastAPI dependency every service uses.

CLI: ``shuangda keys create|list|rotate|revoke``.
"""
from shared.identity.model import KINDS, SCOPES, Principal
from shared.identity.store import DEFAULT_TTL_SECONDS, IdentityDirectory, open_directory

__all__ = ["DEFAULT_TTL_SECONDS", "KINDS", "SCOPES", "IdentityDirectory", "Principal", "open_directory"]
