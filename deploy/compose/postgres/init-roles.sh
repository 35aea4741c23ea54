#!/usr/bin/env bash
# Run once by the postgres image on an empty cluster (docker-entrypoint-initdb.d).
#
# One login role and one schema per service. The schemas belong to the owner
# role that `shuangda migrate` connects as; each service role may use only its
# own schema, and gets DML rights on the tables migrations create there (a
# migration may REVOKE more, e.g. UPDATE/DELETE on an append-only audit log).
# Roles are not superusers and cannot create schemas, databases or roles.
# Every service authenticates callers through the identity store (schema
# SHUANGDA_IDENTITY_SCHEMA, default identity): each role may only read it.
#
# The launcher's secure profile (`shuangda up --profile secure`) runs this same
# script against its own Postgres (deploy/launcher/postgres.py), so compose and
# the local profile define the roles in one place. Idempotent.
#
# Passwords come from SHUANGDA_PG_<SERVICE>_PASSWORD (no defaults); they are
# used inside DSNs, so only A-Z a-z 0-9 . _ ~ - are accepted.
#
# The image sources a non-executable *.sh file into its own entrypoint, so the
# work runs in a subshell function: our shell options stay ours, and a failure
# still aborts initialisation. The function is called on its own, never as
# `f || exit 1`: bash ignores `set -e` in every command of a function run on
# the left of `||`/`&&` (or under `if`/`!`), so a failing psql would go on to
# the next statement and the script would end "ready" with status 0.

shuangda_init_roles() (
set -euo pipefail
idschema="${SHUANGDA_IDENTITY_SCHEMA:-identity}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v idschema="$idschema" -v owner="$POSTGRES_USER" <<'SQL'
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'idschema', :'owner') \gexec
REVOKE ALL ON SCHEMA :"idschema" FROM PUBLIC;
SQL
for svc in intake routing notify credit custody appraisal inspection console; do
  var="SHUANGDA_PG_${svc^^}_PASSWORD"
  pw="${!var:-}"
  if [ -z "$pw" ]; then
    echo "init-roles: $var must be set (no default)" >&2
    exit 1
  fi
  if [ "${#pw}" -lt 16 ] || [[ ! "$pw" =~ ^[A-Za-z0-9._~-]+$ ]]; then
    echo "init-roles: $var must be at least 16 characters of A-Z a-z 0-9 . _ ~ -" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v svc="$svc" -v pw="$pw" -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" -v idschema="$idschema" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'svc', :'pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'svc') \gexec
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'svc', :'owner') \gexec
REVOKE ALL ON SCHEMA :"svc" FROM PUBLIC;
GRANT USAGE ON SCHEMA :"svc" TO :"svc";
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"svc";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"svc"
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"svc";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"svc"
  GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO :"svc";
ALTER ROLE :"svc" SET search_path = :"svc";
GRANT USAGE ON SCHEMA :"idschema" TO :"svc";
GRANT SELECT ON ALL TABLES IN SCHEMA :"idschema" TO :"svc";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"idschema"
  GRANT SELECT ON TABLES TO :"svc";
SQL
done

# The key store of persons' data keys (shared.vault, SHUANGDA_VAULT_SCHEMA, default vault; issue 12
# crypto-shredding): intake stores a key with each complainant record and `shuangda pii erase` (run as
# intake) destroys it, so intake may SELECT, INSERT and UPDATE; notify (a complainant's phone) and the
# console (unmasking) only SELECT. No DELETE: an erased key stays as a row without its key.
vaultschema="${SHUANGDA_VAULT_SCHEMA:-vault}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v vschema="$vaultschema" -v owner="$POSTGRES_USER" <<'SQL'
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'vschema', :'owner') \gexec
REVOKE ALL ON SCHEMA :"vschema" FROM PUBLIC;
GRANT USAGE ON SCHEMA :"vschema" TO intake, notify, console;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA :"vschema" TO intake;
GRANT SELECT ON ALL TABLES IN SCHEMA :"vschema" TO notify, console;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"vschema" GRANT SELECT, INSERT, UPDATE ON TABLES TO intake;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"vschema" GRANT SELECT ON TABLES TO notify, console;
SQL

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v db="$POSTGRES_DB" <<'SQL'
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
echo "init-roles: service roles and schemas ready"
)

shuangda_init_roles
_shuangda_status=$?
if [ "$_shuangda_status" -ne 0 ]; then
  echo "init-roles: failed (status $_shuangda_status); the cluster is not initialised" >&2
  exit "$_shuangda_status"
fi
