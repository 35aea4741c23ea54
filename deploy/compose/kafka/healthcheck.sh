#!/usr/bin/env bash
# Container healthcheck: the local broker answers an authenticated
# ApiVersions/Metadata round trip on its inter-broker listener.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$here/common.sh"

props="${TMPDIR:-/tmp}/shuangda/healthcheck.properties"
[ -s "$props" ] || shuangda_write_admin_properties "$props"
export KAFKA_HEAP_OPTS="-Xms16m -Xmx96m"
exec "${SHUANGDA_KAFKA_HOME:-/opt/kafka}"/bin/kafka-broker-api-versions.sh \
  --bootstrap-server "localhost:9094" --command-config "$props" >/dev/null
