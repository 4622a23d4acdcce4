"""Hooks check certificates unless skipCertVerification (Cloud skip_cert_verification, DC
sslVerificationRequired); keys the server does not offer."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bbrelay import hooks
from shared.bitbucket.models import Webhook, WebhookSpec
from shared.config.settings import BitbucketSettings, Settings, WebhookSettings

CLOUD_API = Path(__file__).parents[1] / "fixtures" / "bitbucket" / "cloud" / "api"


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


def test_cloud_hooks_send_skip_cert_verification_from_the_setting() -> None:
    settings = Settings(bitbucket=BitbucketSettings(webhooks=WebhookSettings()))
    relay = dataclasses.replace(settings.relay, public_url="https://relay")
    checking = dataclasses.replace(settings, relay=relay)
    assert hooks.spec(checking, "s").cloud_body()["skip_cert_verification"] is False
    skipping = dataclasses.replace(
        checking,
        bitbucket=dataclasses.replace(
            checking.bitbucket, webhooks=WebhookSettings(skip_cert_verification=True)
        ),
    )
    assert hooks.spec(skipping, "s").cloud_body()["skip_cert_verification"] is True


def test_a_cloud_hook_reads_skip_cert_verification_as_bitbucket_answers_it() -> None:
    answer = json.loads((CLOUD_API / "repository-hook.json").read_text())
    assert Webhook.from_cloud(answer).ssl_verification_required is True
    answer["skip_cert_verification"] = True
    assert Webhook.from_cloud(answer).ssl_verification_required is False
