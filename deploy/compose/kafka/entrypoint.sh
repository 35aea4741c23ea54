#!/usr/bin/env bash
# Broker start-up wrapper for the apache/kafka image.
#
# The image turns KAFKA_* variables into server.properties, but drops any value
# that contains '=' — so JAAS settings cannot travel that way. This wrapper
# writes the broker's JAAS file from SHUANGDA_KAFKA_ADMIN_PASSWORD, points the
# JVM at it, and hands over to the image's own start script.
#
# Listeners (see docker-compose.yml):
#   CONTROLLER  SASL_PLAINTEXT, PLAIN, user "admin" only  (KRaft quorum)
#   BROKER      SASL_PLAINTEXT, PLAIN, user "admin" only  (inter-broker, admin tools)
#   CLIENT      SASL_PLAINTEXT, SCRAM-SHA-512             (the services)
#   EXTERNAL    SASL_PLAINTEXT, SCRAM-SHA-512             (ingress/egress clients)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$here/common.sh"

shuangda_require_password SHUANGDA_KAFKA_ADMIN_PASSWORD

jaas_dir="${TMPDIR:-/tmp}/shuangda"
jaas="$jaas_dir/kafka_server_jaas.conf"
umask 077
mkdir -p "$jaas_dir"
plain="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"${SHUANGDA_KAFKA_ADMIN_PASSWORD}\" user_admin=\"${SHUANGDA_KAFKA_ADMIN_PASSWORD}\";"
scram="org.apache.kafka.common.security.scram.ScramLoginModule required;"
cat >"$jaas" <<JAAS
controller.KafkaServer {
  ${plain}
};
broker.KafkaServer {
  ${plain}
};
client.KafkaServer {
  ${scram}
};
external.KafkaServer {
  ${scram}
};
JAAS
umask 022

export KAFKA_OPTS="${KAFKA_OPTS:-} -Djava.security.auth.login.config=${jaas}"
unset SHUANGDA_KAFKA_ADMIN_PASSWORD
exec /etc/kafka/docker/run "$@"
