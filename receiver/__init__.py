"""The Flask receiver: verifies Bitbucket webhooks and hands them to the workers."""

from __future__ import annotations

import redis
import structlog
from flask import Flask

from receiver import api, errors, health, inventory_api, jobs_api, webhooks
from receiver.enqueue import CeleryEnqueuer, Enqueuer
from receiver.intake import Intake
from receiver.spool_drain import SpoolDrainer
from shared.config import load_settings
from shared.config.settings import Settings
from shared.deliveries import DeliveryStore
from shared.jobs.store import JobStore
from shared.redis import connect
from shared.sealing import Sealer
from shared.spool import Spool
from shared.webhook_secrets import SecretRing

log = structlog.get_logger(__name__)


class NoWebhookSecret(RuntimeError):
    """The receiver will not accept unverifiable deliveries."""


def create_app(
    settings: Settings | None = None,
    enqueuer: Enqueuer | None = None,
    redis_client: redis.Redis[bytes] | None = None,
) -> Flask:
    """Build the receiver; tests pass their own settings, enqueuer and Redis client."""
    settings = settings or load_settings()
    if not settings.bitbucket.webhook_secrets:
        raise NoWebhookSecret(
            "no webhook secret configured: set BBRELAY_WEBHOOK_SECRET or "
            "global.git.bitbucket.webhookSecret (or run with BBRELAY_ENV=development)"
        )
    client = redis_client or connect(settings.relay.redis_url)
    recovery = settings.relay.recovery
    store = DeliveryStore(
        client, dedupe_window=settings.relay.dedupe_window, deadline=recovery.delivery_deadline
    )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.relay.max_body_bytes
    app.extensions["bbrelay.settings"] = settings
    app.extensions["bbrelay.redis"] = client
    app.extensions["bbrelay.store"] = store
    enqueuer = enqueuer or CeleryEnqueuer(settings)
    app.extensions["bbrelay.enqueuer"] = enqueuer
    sealer = Sealer(settings.relay.encryption_keys)
    app.extensions["bbrelay.jobs"] = JobStore(
        client, sealer, start_deadline=recovery.start_deadline
    )
    ring = SecretRing(client, sealer, lifetime=settings.relay.rotated_secret_lifetime)
    spool = Spool(settings.relay.spool_dir, settings.relay.spool.max_bytes)
    app.extensions["bbrelay.spool"] = spool
    intake = Intake(settings, store, enqueuer, ring, spool)
    app.extensions["bbrelay.intake"] = intake
    # started by gunicorn's post_worker_init (receiver.gunicorn_conf) in each worker process
    app.extensions["bbrelay.drainer"] = SpoolDrainer(spool, intake, client)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(jobs_api.bp)
    app.register_blueprint(inventory_api.bp)
    app.register_blueprint(health.bp)
    errors.register(app)
    return app
