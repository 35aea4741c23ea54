# Sourced by the scripts beside it (bash, inside the apache/kafka image).
# Passwords end up in JAAS and SCRAM config strings, where quotes, commas,
# brackets and '=' would break the syntax; refuse them with a clear message
# rather than produce a half-configured cluster.

shuangda_require_password() {
  # $1 = variable name; the value must be 16+ chars of [A-Za-z0-9._~-]
  local name="$1" value="${!1:-}"
  if [ -z "$value" ]; then
    echo "shuangda-kafka: $name must be set (no default; see deploy/compose/shuangda.env.example)" >&2
    return 1
  fi
  if [ "${#value}" -lt 16 ] || [[ ! "$value" =~ ^[A-Za-z0-9._~-]+$ ]]; then
    echo "shuangda-kafka: $name must be at least 16 characters of A-Z a-z 0-9 . _ ~ - (e.g. openssl rand -hex 24)" >&2
    return 1
  fi
}

# Client properties for the broker super user over the inter-broker listener
# (SASL/PLAIN). Written with mode 600 to a private directory.
#   SHUANGDA_KAFKA_ADMIN_SECURITY_PROTOCOL  the listener's protocol (SASL_PLAINTEXT; SASL_SSL with TLS)
#   SHUANGDA_KAFKA_SSL_CAFILE               TLS: the PEM CA the brokers' certificates are checked against
shuangda_write_admin_properties() {
  # $1 = target file
  shuangda_require_password SHUANGDA_KAFKA_ADMIN_PASSWORD || return 1
  local target="$1" protocol="${SHUANGDA_KAFKA_ADMIN_SECURITY_PROTOCOL:-SASL_PLAINTEXT}"
  case "$protocol" in
    SASL_PLAINTEXT|SASL_SSL) ;;
    *) echo "shuangda-kafka: SHUANGDA_KAFKA_ADMIN_SECURITY_PROTOCOL must be SASL_PLAINTEXT or SASL_SSL" >&2; return 1 ;;
  esac
  if [ "$protocol" = SASL_SSL ] && [ ! -r "${SHUANGDA_KAFKA_SSL_CAFILE:-}" ]; then
    echo "shuangda-kafka: SASL_SSL needs SHUANGDA_KAFKA_SSL_CAFILE, a readable PEM CA file" >&2
    return 1
  fi
  (
    umask 077
    mkdir -p "$(dirname "$target")"
    {
      if [ "$protocol" = SASL_SSL ]; then
        echo "ssl.truststore.type=PEM"
        echo "ssl.truststore.location=${SHUANGDA_KAFKA_SSL_CAFILE}"
        echo "ssl.endpoint.identification.algorithm=https"
      fi
    } >"$target"
    cat >>"$target" <<PROPS
security.protocol=${protocol}
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${SHUANGDA_KAFKA_ADMIN_PASSWORD}";
request.timeout.ms=5000
default.api.timeout.ms=10000
PROPS
  )
}
