"""Floor 1: a bare Flask endpoint that answers without looking at the request."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.post("/api/webhooks/bitbucket")
def hello() -> tuple[str, int]:
    return "hello", 202
