"""Each outgoing target is checked by its own TLS block: Bitbucket's `ssl` is only Bitbucket's.

Real HTTPS servers on 127.0.0.1 with certificates from two test CAs made here.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.bitbucket.errors import RetryableError
from shared.config import load_settings
from shared.jobs.model import JobRequest
from shared.teams.sink import SinkUnavailable, deliver_outbox
from tests.conftest import KEYED
from tests.fakes.serving import QuietHandler, serve, stop
from workers import job_flow
from workers.services import Services, build_services

pytestmark = pytest.mark.integration

COMMIT = "a" * 40


class CA:
    """A certificate authority that signs a certificate for 127.0.0.1."""

    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            self._builder(subject, subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def _builder(
        self, subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def server_context(self, tmp: Path) -> ssl.SSLContext:
        """A server context presenting a certificate for 127.0.0.1 signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        cert = (
            self._builder(subject, self.cert.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName([address]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_file, key_file = tmp / "server.pem", tmp / "server.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        return context


class Accepting(QuietHandler):
    received: list[str] = []  # noqa: RUF012 (one list per test, reset by the fixture)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        Accepting.received.append(self.path)
        body = json.dumps({"id": "platform-1"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[str, CA]]:
    """An HTTPS platform on 127.0.0.1 whose certificate comes from its own CA."""
    Accepting.received = []
    ca = CA("platform CA")
    server = serve(Accepting)
    server.socket = ca.server_context(tmp_path).wrap_socket(server.socket, server_side=True)
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", ca
    finally:
        stop(server)


def services_for(tmp: Path, redis_url: str, ssl_block: str, platform_url: str, ca: CA) -> Services:
    (tmp / "platform-ca.pem").write_text(ca.pem())
    (tmp / "bitbucket-ca.pem").write_text(CA("bitbucket CA").pem())
    values = f"""
global:
  git:
    bitbucket:
      token: t0ken
      ssl: {ssl_block}
      buildStatus: {{contexts: {{platform: relay/platform}}}}
      jobs:
        - {{name: plain, on: [push], context: platform, runner: http,
            http: {{url: "{platform_url}/jobs", secret: s3cret}}}}
        - {{name: trusted, on: [push], context: platform, runner: http,
            http: {{url: "{platform_url}/jobs", secret: s3cret,
                    tls: {{caCertificate: "{tmp / "platform-ca.pem"}"}}}}}}
  teams:
    bitbucket:
      sink: {{url: "{platform_url}/teams", secret: s3cret}}
"""
    (tmp / "values.yaml").write_text(values)
    environ = {
        "BBRELAY_REDIS_URL": redis_url,
        "BBRELAY_WEBHOOK_SECRET": "outgoing-tls-webhook-secret-0123456789",
        **KEYED,
    }
    return build_services(load_settings(tmp / "values.yaml", environ=environ))


def start(services: Services, rule: str) -> str:
    """Start a job of `rule` through the job flow; its state afterwards."""
    request = JobRequest(
        job_id=f"{rule}-job",
        rule=rule,
        runner="http",
        context="platform",
        product="cloud",
        repository="acme/data",
        commit=COMMIT,
        ref="refs/heads/main",
        branch="main",
        event_key="repo:push",
        delivery_id=f"{rule}-delivery",
    )
    services.jobs.create(request)
    job_flow.start_job(services, request.job_id, lambda *_: None)
    job = services.jobs.get(request.job_id)
    assert job is not None
    return job.state


def assert_unverified(error: BaseException) -> None:
    """The call failed on the server's certificate, not on anything else."""
    assert "CERTIFICATE_VERIFY_FAILED" in str(error.__cause__)


def test_bitbuckets_ca_vouches_for_no_platform_that_has_not_its_own_tls(
    redis_url: str, tmp_path: Path, platform: tuple[str, CA]
) -> None:
    url, ca = platform
    ssl_block = f'{{caCertificate: "{tmp_path / "bitbucket-ca.pem"}"}}'
    services = services_for(tmp_path, redis_url, ssl_block, url, ca)

    with pytest.raises(RetryableError) as refused:
        start(services, "plain")
    assert_unverified(refused.value)
    assert start(services, "trusted") == "INPROGRESS"
    assert Accepting.received == ["/jobs"]


def test_bitbucket_ssl_verify_false_leaves_the_platform_and_the_sink_verified(
    redis_url: str, tmp_path: Path, platform: tuple[str, CA]
) -> None:
    url, ca = platform
    services = services_for(tmp_path, redis_url, "{verify: false}", url, ca)
    sink = services.settings.teams.sink
    assert sink is not None
    services.teams.push_outbox("acme", {"added": []})

    with pytest.raises(RetryableError) as job_refused:
        start(services, "plain")
    with pytest.raises(SinkUnavailable) as sink_refused:
        deliver_outbox(services.teams, services.platform_http(sink.tls), sink, "acme")
    assert_unverified(job_refused.value)
    assert_unverified(sink_refused.value)
    assert Accepting.received == []
