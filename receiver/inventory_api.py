"""The inventory under /api/inventory (bearer token): counts and last pass, entities by page."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from receiver.auth import bearer_required
from shared.inventory.entities import TYPES
from shared.inventory.store import InventoryStore

bp = Blueprint("inventory", __name__, url_prefix="/api/inventory")


def _store() -> InventoryStore:
    return InventoryStore(current_app.extensions["bbrelay.redis"])


@bp.get("/<workspace>")
@bearer_required
def get_inventory(workspace: str) -> ResponseReturnValue:
    store = _store()
    return jsonify(
        {
            "workspace": workspace,
            "counts": store.counts(workspace),
            "last_pass": store.last_pass(workspace),
            "outbox": store.outbox(workspace).length(),
        }
    )


@bp.get("/<workspace>/<kind>")
@bearer_required
def list_entities(workspace: str, kind: str) -> ResponseReturnValue:
    """A page of documents; `next` is the cursor of the following page, null after the last."""
    if kind not in TYPES:
        return jsonify({"error": f"no entity type {kind!r}; one of {', '.join(TYPES)}"}), 404
    cursor = request.args.get("cursor", "0")
    if not cursor.isdigit():
        return jsonify({"error": "cursor must be the `next` of a previous page"}), 400
    documents, following = _store().page(workspace, kind, int(cursor))
    return jsonify({"values": documents, "next": str(following) if following else None})
