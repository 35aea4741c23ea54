#!/usr/bin/env bash
# One-shot: SCRAM users and ACLs for the production cluster (idempotent; safe
# to run again after adding a client or bureau).
#
# Principals
#   admin                      broker super user (PLAIN, inter-broker only)
#   intake routing notify credit custody appraisal inspection
#                              one per service (SCRAM-SHA-512)
#   console                    the web console: reads the internal families and the
#                              ingress DLQs to show dead letters, writes the internal
#                              families to replay them (no group, no topic creation)
#   migrate                    `shuangda migrate`: creates and configures topics
#   <client>                   each outside publisher; writes only ingress.<client>
#   <bureau>                   each bureau; reads only egress.<bureau>
#   <provider>                 each appraisal provider (the centre, a rights holder's identification
#                              service); reads only egress.appraisal.<provider>
#
# Grants
#   internal families (complaint. lead. case. referral. deadline. alert.
#   penalty. credit. notification. custody. appraisal. inspection.) —
#   read/write/describe for the service principals only. A consumed topic's `.dlq` twin shares its family prefix,
#   so a service that consumes a family also writes that family's DLQs.
#   <service>*                 consumer groups of one service (group ids start
#                              with the service name: "intake", "routing-…")
#   <service>-*                topics private to one service (faust changelog and
#                              repartition topics: app id "<service>" or "<service>-…")
#   ingress.                   read by intake, routing, credit; ingress.<client>
#                              written by that client alone; its .dlq written by
#                              the services that consume it. ingress.inspection is
#                              written by the inspection service (a violation found
#                              on a random inspection becomes a lead)
#   egress.appraisal.          written (and created) by appraisal; egress.appraisal.<provider>
#                              read by that provider alone, with consumer groups "<provider>*"
#   egress.                    written by routing; egress.<bureau> read by that
#                              bureau alone, with consumer groups "<bureau>*"
#
# Environment
#   SHUANGDA_KAFKA_ADMIN_PASSWORD, SHUANGDA_KAFKA_<PRINCIPAL>_PASSWORD for each of
#   SERVICES below, CONSOLE and MIGRATE
#   SHUANGDA_KAFKA_INGRESS_CLIENTS  names, space or comma separated (may be empty)
#   SHUANGDA_KAFKA_EGRESS_BUREAUS   names as used in egress.<name> (may be empty)
#   SHUANGDA_KAFKA_APPRAISAL_PROVIDERS  provider principal ids, as in egress.appraisal.<id> (may be empty)
#   SHUANGDA_KAFKA_PASSWORD_<NAME>  password of each client/bureau, NAME upper-cased
#                                   with '-' and '.' as '_'
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$here/common.sh"

bootstrap="${SHUANGDA_KAFKA_ADMIN_BOOTSTRAP:-kafka-1:9094,kafka-2:9094,kafka-3:9094}"
admin_props="${TMPDIR:-/tmp}/shuangda/admin.properties"
export KAFKA_HEAP_OPTS="${SHUANGDA_KAFKA_TOOLS_HEAP:--Xms32m -Xmx256m}"

SERVICES=(intake routing notify credit custody appraisal inspection)
FAMILIES=(complaint. lead. case. referral. deadline. alert. penalty. credit. notification. custody. appraisal. inspection.)
# services that publish on an ingress topic of their own (ingress.<service>), as an outside client would
INGRESS_SERVICES=(inspection)
RESERVED=(admin migrate console "${SERVICES[@]}")
NAME_RE='^[a-z0-9][a-z0-9_-]{1,62}$'

split_names() { tr ', ' '\n\n' <<<"${1:-}" | sed '/^$/d'; }
password_var() { local n="${1^^}"; n="${n//-/_}"; n="${n//./_}"; echo "SHUANGDA_KAFKA_PASSWORD_${n}"; }

check_name() {
  local kind="$1" name="$2" r
  if [[ ! "$name" =~ $NAME_RE ]]; then
    echo "kafka-acls: $kind name '$name' must be 2-63 of a-z 0-9 _ - (it becomes a topic name and a principal)" >&2
    exit 1
  fi
  for r in "${RESERVED[@]}"; do
    if [ "$name" = "$r" ]; then
      echo "kafka-acls: $kind name '$name' is reserved for an internal principal" >&2
      exit 1
    fi
  done
}

mapfile -t CLIENTS < <(split_names "${SHUANGDA_KAFKA_INGRESS_CLIENTS:-}")
mapfile -t BUREAUS < <(split_names "${SHUANGDA_KAFKA_EGRESS_BUREAUS:-}")
mapfile -t PROVIDERS < <(split_names "${SHUANGDA_KAFKA_APPRAISAL_PROVIDERS:-}")

# Check everything before touching the cluster.
for svc in "${SERVICES[@]}" console migrate; do
  shuangda_require_password "SHUANGDA_KAFKA_${svc^^}_PASSWORD"
done
for c in "${CLIENTS[@]}"; do check_name client "$c"; shuangda_require_password "$(password_var "$c")"; done
for b in "${BUREAUS[@]}"; do check_name bureau "$b"; shuangda_require_password "$(password_var "$b")"; done
for p in "${PROVIDERS[@]}"; do check_name provider "$p"; shuangda_require_password "$(password_var "$p")"; done
shuangda_write_admin_properties "$admin_props"

configs() { "${SHUANGDA_KAFKA_HOME:-/opt/kafka}"/bin/kafka-configs.sh --bootstrap-server "$bootstrap" --command-config "$admin_props" "$@"; }
acl() { "${SHUANGDA_KAFKA_HOME:-/opt/kafka}"/bin/kafka-acls.sh --bootstrap-server "$bootstrap" --command-config "$admin_props" --add "$@" >/dev/null; }

scram_user() {
  # $1 principal, $2 password
  echo "kafka-acls: SCRAM-SHA-512 credentials for User:$1"
  configs --alter --entity-type users --entity-name "$1" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$2]" >/dev/null
}

pw_of_service() { local v="SHUANGDA_KAFKA_${1^^}_PASSWORD"; echo "${!v}"; }
pw_of_outsider() { local v; v="$(password_var "$1")"; echo "${!v}"; }

# --- users -----------------------------------------------------------------
for svc in "${SERVICES[@]}" console migrate; do scram_user "$svc" "$(pw_of_service "$svc")"; done
for c in "${CLIENTS[@]}"; do scram_user "$c" "$(pw_of_outsider "$c")"; done
for b in "${BUREAUS[@]}"; do scram_user "$b" "$(pw_of_outsider "$b")"; done
for p in "${PROVIDERS[@]}"; do scram_user "$p" "$(pw_of_outsider "$p")"; done

# --- internal topics: the services' own bus --------------------------------
service_principals=()
for svc in "${SERVICES[@]}"; do service_principals+=(--allow-principal "User:$svc"); done
family_topics=()
for f in "${FAMILIES[@]}"; do family_topics+=(--topic "$f"); done

echo "kafka-acls: internal families -> ${SERVICES[*]}"
acl "${service_principals[@]}" --resource-pattern-type prefixed "${family_topics[@]}" \
  --operation Read --operation Write --operation Describe

# --- per-service private topics and consumer groups ------------------------
for svc in "${SERVICES[@]}"; do
  echo "kafka-acls: $svc-* topics and $svc* consumer groups -> $svc"
  acl --allow-principal "User:$svc" --resource-pattern-type prefixed --topic "$svc-" \
    --operation Create --operation Read --operation Write --operation Describe \
    --operation DescribeConfigs --operation AlterConfigs
  acl --allow-principal "User:$svc" --resource-pattern-type prefixed --group "$svc" \
    --operation Read --operation Describe
done

# --- ingress: outside clients write, intake/routing/credit read ------------
echo "kafka-acls: ingress.* readable by intake, routing, credit"
acl --allow-principal User:intake --allow-principal User:routing --allow-principal User:credit \
  --resource-pattern-type prefixed --topic ingress. --operation Read --operation Describe
for c in "${CLIENTS[@]}"; do
  echo "kafka-acls: ingress.$c writable by $c only"
  acl --allow-principal "User:$c" --resource-pattern-type literal --topic "ingress.$c" \
    --operation Write --operation Describe
  acl --allow-principal User:intake --allow-principal User:routing --allow-principal User:credit \
    --resource-pattern-type literal --topic "ingress.$c.dlq" --operation Write --operation Describe
done

for svc in "${INGRESS_SERVICES[@]}"; do
  echo "kafka-acls: ingress.$svc writable by the $svc service"
  acl --allow-principal "User:$svc" --resource-pattern-type literal --topic "ingress.$svc" \
    --operation Write --operation Describe
  acl --allow-principal User:intake --allow-principal User:routing --allow-principal User:credit \
    --resource-pattern-type literal --topic "ingress.$svc.dlq" --operation Write --operation Describe
done

# --- console: dead letters are read (manual assignment, no group) and replayed --
# Replay publishes a dead letter's record again on its origin topic. The console may
# do that for the internal families only: an ingress topic stays written by its own
# client alone, so an ingress dead letter is replayed by an operator (`shuangda dlq
# replay`, as the super user). It reads the ingress DLQs to show them; it creates
# nothing and consumes in no group.
echo "kafka-acls: internal families readable and writable by console (dead letters, replay)"
acl --allow-principal User:console --resource-pattern-type prefixed "${family_topics[@]}" \
  --operation Read --operation Write --operation Describe
ingress_dlqs=()
for c in "${CLIENTS[@]}" "${INGRESS_SERVICES[@]}"; do ingress_dlqs+=(--topic "ingress.$c.dlq"); done
echo "kafka-acls: ingress DLQs readable by console"
acl --allow-principal User:console --resource-pattern-type literal "${ingress_dlqs[@]}" \
  --operation Read --operation Describe

# --- egress: routing writes, each bureau reads its own ---------------------
echo "kafka-acls: egress.* writable by routing"
acl --allow-principal User:routing --resource-pattern-type prefixed --topic egress. \
  --operation Write --operation Describe
# routing creates a bureau's egress topic the first time it assigns that bureau a case
acl --allow-principal User:routing --resource-pattern-type prefixed --topic egress. \
  --operation Create
for b in "${BUREAUS[@]}"; do
  echo "kafka-acls: egress.$b readable by $b only"
  acl --allow-principal "User:$b" --resource-pattern-type literal --topic "egress.$b" \
    --operation Read --operation Describe
  acl --allow-principal "User:$b" --resource-pattern-type prefixed --group "$b" \
    --operation Read --operation Describe
done

# --- egress.appraisal.: appraisal writes, each provider reads its own -------
echo "kafka-acls: egress.appraisal.* written and created by appraisal"
acl --allow-principal User:appraisal --resource-pattern-type prefixed --topic egress.appraisal. \
  --operation Write --operation Describe --operation Create
for p in "${PROVIDERS[@]}"; do
  echo "kafka-acls: egress.appraisal.$p readable by $p only"
  acl --allow-principal "User:$p" --resource-pattern-type literal --topic "egress.appraisal.$p" \
    --operation Read --operation Describe
  acl --allow-principal "User:$p" --resource-pattern-type prefixed --group "$p" \
    --operation Read --operation Describe
done

# --- migrate: creates and configures every topic ---------------------------
echo "kafka-acls: topic creation -> migrate"
acl --allow-principal User:migrate --resource-pattern-type prefixed \
  "${family_topics[@]}" --topic ingress. --topic egress. \
  --operation Create --operation Describe --operation DescribeConfigs --operation AlterConfigs

echo "kafka-acls: done (${#SERVICES[@]} services and the console, ${#CLIENTS[@]} ingress clients, ${#BUREAUS[@]} bureaus)"
