"""Delivery ids become parts of Redis keys: only UUID-like ones are kept, others replaced."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs
from werkzeug.datastructures import Headers

from receiver.intake import delivery_id_from


@pytest.mark.parametrize(
    "given",
    ["{3deb8c29-778a-450c-8f69-3e50a18079df}", "5a32e5f3-af00-498c-8173-82c39d711853", "a_b"],
)
def test_a_uuid_like_delivery_id_is_kept(given: str) -> None:
    assert delivery_id_from(Headers({"X-Request-UUID": given})) == given


@pytest.mark.parametrize("given", ["d-1:body", "d 1", "d/../x", "a" * 65, "d-1\tx"])
def test_any_other_delivery_id_is_replaced_by_a_made_up_one_and_logged(given: str) -> None:
    with capture_logs() as logs:
        made_up = delivery_id_from(Headers({"X-Request-Id": given}))
    assert made_up.startswith("gen-") and given not in made_up
    assert [entry["event"] for entry in logs] == ["webhook.delivery_id_replaced"]
    assert given not in str(logs)
