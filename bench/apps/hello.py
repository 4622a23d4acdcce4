"""Floor 1: a bare Flask endpoint that answers without reading the request."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.post("/api/webhooks/bitbucket")
def hello() -> str:
    return "hello"
