"""The alert rules name only metrics the service really exports, with labels it really sets."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import receiver.metrics
import shared.bitbucket.metrics

RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "alerts.yml"


def _exported() -> set[str]:
    assert receiver.metrics.WEBHOOK_DELIVERIES and shared.bitbucket.metrics.API_REQUESTS
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = set()
    for metric in REGISTRY.collect():
        names |= {metric.name + suffix for suffix in suffixes.get(metric.type, ("",))}
    return names


def test_every_metric_in_the_rules_is_exported() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    assert {rule["alert"] for rule in rules} == {
        "BitbucketApiErrorRateHigh",
        "WebhookFailureRateHigh",
    }
    named = set()
    for rule in rules:
        named |= set(re.findall(r"\bbbrelay_[a-z_]+", rule["expr"]))
    assert named == {
        "bbrelay_bitbucket_api_errors_total",
        "bbrelay_bitbucket_api_requests_total",
        "bbrelay_webhook_deliveries_total",
    }
    assert named <= _exported()


def test_the_outcomes_the_webhook_rule_counts_are_real_outcomes() -> None:
    expr = yaml.safe_load(RULES.read_text())["groups"][0]["rules"][1]["expr"]
    counted = set(re.search(r'outcome=~"([^"]+)"', expr).group(1).split("|"))  # type: ignore[union-attr]
    assert counted <= set(receiver.metrics.OUTCOMES)
    assert "accepted" not in counted and "duplicate" not in counted
