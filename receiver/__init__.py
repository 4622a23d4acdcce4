"""The Flask receiver: verifies Bitbucket webhooks and hands them to the workers."""

from __future__ import annotations

import redis
import structlog
from flask import Flask

from receiver import api, errors, health, inventory_api, jobs_api, oauth_client, sign_in, webhooks
from receiver.enqueue import CeleryEnqueuer, Enqueuer
from receiver.intake import Intake
from receiver.spool_drain import SpoolDrainer
from shared.config import load_settings
from shared.config.settings import SIGN_IN_CALLBACK, Settings
from shared.deliveries import DeliveryStore
from shared.identity import IdentitySigner
from shared.jobs.store import JobStore
from shared.redis import connect
from shared.sealing import Sealer
from shared.spool import Spool
from shared.teams.store import TeamStore
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
    if settings.sign_in.enabled:
        _add_sign_in(app, settings, client, sealer)
    errors.register(app)
    return app


def _add_sign_in(
    app: Flask, settings: Settings, client: redis.Redis[bytes], sealer: Sealer
) -> None:
    """Sign in with Bitbucket (global.auth.bitbucket.enabled) and the identity it hands on."""
    assert settings.identity.signing_key and settings.identity.audience  # checked by config
    callback = settings.sign_in.redirect_uri or ""
    issuer = (settings.relay.public_url or callback.removesuffix(SIGN_IN_CALLBACK)).rstrip("/")
    app.extensions["bbrelay.identity"] = IdentitySigner(
        settings.identity.signing_key, issuer, settings.identity.audience
    )
    app.extensions["bbrelay.oauth"] = oauth_client.register(app, settings, client, sealer)
    app.extensions["bbrelay.teams"] = TeamStore(client)
    app.register_blueprint(sign_in.bp)
