"""DC hooks: sslVerificationRequired from skipCertVerification; keys the server does not offer."""

from __future__ import annotations

import dataclasses

import pytest

from bbrelay import hooks
from shared.bitbucket.models import WebhookSpec
from shared.config.settings import BitbucketSettings, Settings, WebhookSettings


class Offers:
    def webhook_event_keys(self) -> frozenset[str]:
        return frozenset({"repo:refs_changed", "pr:opened"})


def _settings(**webhooks: object) -> Settings:
    hook = WebhookSettings(**webhooks)  # type: ignore[arg-type]
    return Settings(bitbucket=BitbucketSettings(product="server", webhooks=hook))


def test_dc_hooks_send_ssl_verification_from_skip_cert_verification() -> None:
    spec = WebhookSpec("https://relay/api/webhooks/bitbucket", ("pr:opened",), "r", "s")
    assert spec.server_body()["sslVerificationRequired"] is True
    skipping = dataclasses.replace(spec, ssl_verification_required=False)
    assert skipping.server_body()["sslVerificationRequired"] is False
    settings = _settings(skip_cert_verification=True)
    relay = dataclasses.replace(settings.relay, public_url="https://relay")
    sent = hooks.spec(dataclasses.replace(settings, relay=relay), "s").server_body()
    assert sent["sslVerificationRequired"] is False


def test_a_key_the_server_does_not_offer_is_refused_with_the_list() -> None:
    settings = _settings(events=("pr:opened", "pr:reviewer:changes_requested"))
    with pytest.raises(hooks.HooksError) as caught:
        hooks.refuse_events_not_offered(Offers(), settings)  # type: ignore[arg-type]
    assert "pr:reviewer:changes_requested" in str(caught.value)
    assert "pr:opened, repo:refs_changed" in str(caught.value)
