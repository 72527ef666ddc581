"""A small bounded HTTP GET of a JSON document (the monitor's /verdict), never raising past RetryLater."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

from dnsdr.domain.errors import RetryLater

MAX_BODY = 4 * 1024 * 1024


class HttpJsonError(RetryLater):
    """The document could not be fetched or is not JSON; the message names the URL, never a body."""


def get_json(url: str, timeout: float) -> Any:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpJsonError(f"not an http(s) URL: {url[:120]}")
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), timeout=timeout)
    try:
        conn.request("GET", parts.path or "/", headers={"Accept": "application/json"})
        resp = conn.getresponse()
        body = resp.read(MAX_BODY + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise HttpJsonError(f"GET {url}: {exc or type(exc).__name__}") from None
    finally:
        conn.close()
    if resp.status != 200:
        raise HttpJsonError(f"GET {url}: HTTP {resp.status}")
    if len(body) > MAX_BODY:
        raise HttpJsonError(f"GET {url}: answer larger than {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise HttpJsonError(f"GET {url}: the answer is not JSON") from None
