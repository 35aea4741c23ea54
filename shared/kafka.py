"""The one way to reach Kafka: every consumer, producer, admin client and faust
app of every service and CLI verb is built here, from the settings, so the
security settings (SASL_SSL with SCRAM, the CA to verify brokers against, host
name checks) are never forgotten on one of them.

    kafka = KafkaConnection.from_settings(settings)
    consumer = kafka.consumer(group_id="g", enable_auto_commit=False)
    producer = kafka.producer(acks="all", enable_idempotence=True)
    admin = kafka.admin(client_id="shuangda-admin")

`KafkaConnection` is a small immutable value; pass it where a client is
needed instead of a bootstrap string.
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # the clients are imported where they are built, so importing this module stays cheap
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient

    from shared.config import StackSettings

#: the options a caller may not set by hand: they come from the connection
_SECURITY_KEYS = frozenset({"bootstrap_servers", "security_protocol", "sasl_mechanism", "sasl_plain_username",
                            "sasl_plain_password", "ssl_context"})


@dataclass(frozen=True)
class KafkaConnection:
    """Where the brokers are and how to authenticate to them."""

    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: the CA that signed the brokers' certificates (TLS protocols); None: the system's trust store
    ca_file: str | None = None
    check_hostname: bool = True

    @classmethod
    def from_settings(cls, settings: "StackSettings") -> "KafkaConnection":
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
        return cls(
            bootstrap=settings.kafka_bootstrap,
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_sasl_username,
            password=password,
            ca_file=settings.kafka_ssl_cafile,
            check_hostname=settings.kafka_ssl_check_hostname,
        )

    @classmethod
    def of(cls, target: "KafkaConnection | str", options: Mapping[str, Any] | None = None) -> "KafkaConnection":
        """`target` itself, or a connection to the bootstrap string `target` with aiokafka-style
        security `options` (``security_protocol``, ``sasl_*``)."""
        if isinstance(target, KafkaConnection):
            return target
        o = dict(options or {})
        return cls(bootstrap=target, security_protocol=o.get("security_protocol", "PLAINTEXT"),
                   sasl_mechanism=o.get("sasl_mechanism"), username=o.get("sasl_plain_username"),
                   password=o.get("sasl_plain_password"))

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        context.check_hostname = self.check_hostname
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def options(self) -> dict[str, Any]:
        """The keyword arguments every aiokafka client takes for this connection."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.username,
                           sasl_plain_password=self.password)
        context = self.ssl_context()
        if context is not None:
            options["ssl_context"] = context
        return options

    def _with(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        clash = _SECURITY_KEYS & set(extra)
        if clash:
            raise ValueError(f"set {', '.join(sorted(clash))} through the KafkaConnection, not by hand")
        return {**self.options(), **extra}

    def consumer(self, *topics: str, **kwargs: Any) -> "AIOKafkaConsumer":
        from aiokafka import AIOKafkaConsumer

        return AIOKafkaConsumer(*topics, **self._with(kwargs))

    def producer(self, **kwargs: Any) -> "AIOKafkaProducer":
        from aiokafka import AIOKafkaProducer

        return AIOKafkaProducer(**self._with(kwargs))

    def admin(self, **kwargs: Any) -> "AIOKafkaAdminClient":
        from aiokafka.admin import AIOKafkaAdminClient

        return AIOKafkaAdminClient(**self._with(kwargs))

    def faust_options(self) -> dict[str, Any]:
        """``faust.App`` keyword arguments: the broker URL and its credentials."""
        import faust
        from faust.types.auth import SASLMechanism

        options: dict[str, Any] = {"broker": ";".join(f"kafka://{b.strip()}" for b in self.bootstrap.split(","))}
        context = self.ssl_context()
        if self.sasl_mechanism:
            mechanism = SASLMechanism(self.sasl_mechanism)
            options["broker_credentials"] = faust.SASLCredentials(
                username=self.username, password=self.password, mechanism=mechanism, ssl_context=context)
        elif context is not None:
            options["broker_credentials"] = faust.SSLCredentials(context)
        return options
