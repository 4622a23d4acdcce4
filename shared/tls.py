"""How an outgoing call checks its target's certificate, from that target's own TLS block."""

from __future__ import annotations

import ssl
from pathlib import Path

from shared.config.settings import TLS


def verify_for(tls: TLS) -> bool | ssl.SSLContext:
    """httpx's `verify`: the system trust store, none, or only the block's `caCertificate`."""
    ca = tls.ca_certificate
    if not tls.verify or not ca:
        return tls.verify
    if "-----BEGIN" in ca:
        return ssl.create_default_context(cadata=ca)
    return ssl.create_default_context(cafile=str(Path(ca)))
