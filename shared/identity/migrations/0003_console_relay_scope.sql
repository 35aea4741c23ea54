-- The console's public reader calls routing's POST /v1/status for every citizen through its one key;
-- with 'clients:relay' routing honours the X-Client-Address it sends and rate-limits each citizen's
-- address, not the key (shared/ratelimit.py). A reader registered before the scope existed holds
-- only 'cases:read': give it the scope (the console registers new ones with it).
UPDATE principals
   SET scopes = ARRAY['cases:read', 'clients:relay']
 WHERE principal_id = 'console.public' AND revoked_at IS NULL AND scopes = ARRAY['cases:read'];
