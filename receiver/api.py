"""The operator API under /api (bearer token): deliveries and team sync results."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from receiver.auth import bearer_required
from shared.deliveries import DeliveryStore
from shared.teams.store import TeamStore

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/deliveries/<delivery_id>")
@bearer_required
def get_delivery(delivery_id: str) -> ResponseReturnValue:
    store: DeliveryStore = current_app.extensions["bbrelay.store"]
    record = store.get(delivery_id)
    if record is None:
        return jsonify({"error": f"no delivery {delivery_id} in the last days"}), 404
    return jsonify(record)


@bp.get("/teams/<workspace>")
@bearer_required
def get_team(workspace: str) -> ResponseReturnValue:
    """The workspace's snapshot, last diff, held diff (if any) and sync status."""
    view = TeamStore(current_app.extensions["bbrelay.redis"]).view(workspace)
    if view is None:
        return jsonify({"error": f"no team sync of {workspace} yet"}), 404
    return jsonify(view)
