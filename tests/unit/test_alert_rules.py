"""The alert rules and the Grafana dashboard name only metrics the service really exports."""

from __future__ import annotations

import json
import re
from itertools import chain
from pathlib import Path
from typing import Any

import fakeredis
import yaml
from prometheus_client import REGISTRY

import receiver.metrics
import shared.bitbucket.metrics
import shared.teams.metrics
from receiver.metrics import SpoolCollector
from shared.redis_metrics import RedisStateCollector
from shared.spool import Spool

DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "bbrelay.json"


def _exported() -> set[str]:
    assert receiver.metrics.WEBHOOK_DELIVERIES and shared.bitbucket.metrics.API_REQUESTS
    assert shared.teams.metrics.TEAM_SYNCS
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = set()
    spool = SpoolCollector(Spool("/nonexistent/bbrelay-spool", 1))  # read, never written
    scraped = chain(RedisStateCollector(fakeredis.FakeRedis()).collect(), spool.collect())
    for metric in chain(REGISTRY.collect(), scraped):
        names |= {metric.name + suffix for suffix in suffixes.get(metric.type, ("",))}
    return names


def _dashboard_panels() -> list[dict[str, Any]]:
    return [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]


def test_every_metric_on_the_dashboard_is_exported() -> None:
    exprs = [target["expr"] for panel in _dashboard_panels() for target in panel["targets"]]
    named = set(re.findall(r"\bbbrelay_[a-z_]+", " ".join(exprs)))
    assert named, "the dashboard queries no metric"
    assert named - _exported() == set()


def test_the_dashboard_asks_for_its_prometheus_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = dashboard["templating"]["list"]
    assert [(v["name"], v["type"], v["query"]) for v in variables] == [
        ("datasource", "datasource", "prometheus")
    ]
    for panel in _dashboard_panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]


def test_every_metric_in_the_rules_is_exported() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    assert {rule["alert"] for rule in rules} == {
        "BitbucketApiErrorRateHigh",
        "WebhookFailureRateHigh",
        "WebhookSpoolNotDraining",
    }
    named = set()
    for rule in rules:
        named |= set(re.findall(r"\bbbrelay_[a-z_]+", rule["expr"]))
    assert named == {
        "bbrelay_bitbucket_api_errors_total",
        "bbrelay_bitbucket_api_requests_total",
        "bbrelay_webhook_deliveries_total",
        "bbrelay_spool_depth",
    }
    assert named <= _exported()


def test_the_outcomes_the_webhook_rule_counts_are_real_outcomes() -> None:
    expr = yaml.safe_load(RULES.read_text())["groups"][0]["rules"][1]["expr"]
    counted = set(re.search(r'outcome=~"([^"]+)"', expr).group(1).split("|"))  # type: ignore[union-attr]
    assert counted <= set(receiver.metrics.OUTCOMES)
    assert "accepted" not in counted and "duplicate" not in counted
