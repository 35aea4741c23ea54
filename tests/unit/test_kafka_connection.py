"""The one Kafka client builder: every client gets the connection's security settings."""
import ssl

import pytest

from shared.config import StackSettings
from shared.kafka import KafkaConnection


def test_a_sasl_ssl_connection_gives_every_client_scram_credentials_and_a_verifying_tls_context() -> None:
    settings = StackSettings(dev=True, kafka_bootstrap="kafka-1:9094,kafka-2:9094", kafka_security_protocol="SASL_SSL",
                             kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="intake",
                             kafka_sasl_password="s3cret")
    kafka = settings.kafka
    options = kafka.options()
    assert options["bootstrap_servers"] == "kafka-1:9094,kafka-2:9094"
    assert (options["security_protocol"], options["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("intake", "s3cret")
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert "s3cret" not in repr(kafka), "the password never shows in a log line"


def test_plaintext_needs_no_tls_context() -> None:
    assert "ssl_context" not in KafkaConnection("127.0.0.1:9092").options()


def test_security_settings_cannot_be_overridden_by_hand_when_building_a_client() -> None:
    kafka = KafkaConnection("127.0.0.1:9092")
    with pytest.raises(ValueError, match="security_protocol"):
        kafka.producer(security_protocol="PLAINTEXT")
    with pytest.raises(ValueError, match="bootstrap_servers"):
        kafka.consumer(bootstrap_servers="elsewhere:9092")


def test_faust_gets_the_same_credentials() -> None:
    import faust

    kafka = KafkaConnection("k1:9094,k2:9094", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                            username="routing", password="pw")
    options = kafka.faust_options()
    assert options["broker"] == "kafka://k1:9094;kafka://k2:9094"
    credentials = options["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "routing" and credentials.ssl_context is not None
