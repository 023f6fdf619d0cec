"""Deliver a checkpoint message to a Slack-compatible webhook.

The URL comes from an environment variable only (never from a file in the
repository) and is never printed in full. Delivery has a timeout and retries;
a failed delivery is reported, never fatal to the checkpoint record.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Delivery:
    delivered: bool
    attempts: int
    detail: str


def mask_url(url: str) -> str:
    """scheme://host/… : enough to tell which endpoint, never the secret path."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<malformed URL>"
    return f"{parts.scheme or '?'}://{host}{port}/…"


def webhook_url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook endpoint, or None. The answer never
    quotes the URL: its path is the secret."""
    if any(character.isspace() or ord(character) < 32 for character in url):
        return "contains a space or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https"):
        return "must start with https:// (or http://)"
    if not parts.hostname:
        return "has no host"
    return None


def slack_escape(text: str) -> str:
    """Slack's own escaping: data can never become a mention (<!channel>) or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(text: str, summary: dict) -> dict:
    """The webhook body: the whole message escaped once, so every data field in
    it (refund and order ids, details, currencies, file names, reasons) is
    text to Slack, never a mention, a channel link or a link. The report's
    address is printed as is (Slack links a bare URL; escaping keeps a `>` in
    it from closing anything)."""
    return {"text": slack_escape(text), "outcome": slack_escape(str(summary.get("outcome", ""))),
            "checkpoint_id": slack_escape(str(summary.get("checkpoint_id", "")))}


def retry_after(error: urllib.error.HTTPError, longest: float = 60.0) -> float | None:
    """Seconds the endpoint asked us to wait (Retry-After in seconds), capped."""
    value = (error.headers or {}).get("Retry-After", "")
    try:
        return min(max(float(value), 0.0), longest)
    except ValueError:
        return None


def post_json(url: str, payload: dict, timeout_seconds: float = 10.0, attempts: int = 3,
              backoff_seconds: float = 1.0) -> Delivery:
    body = json.dumps(payload).encode("utf-8")
    last_error = ""
    wait: float | None = None
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
                if 200 <= response.status < 300:
                    return Delivery(True, attempt, f"HTTP {response.status}")
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            last_error = f"HTTP {error.code}"
            if 400 <= error.code < 500 and error.code != 429:
                break  # the endpoint refuses this message: retrying will not help
            wait = retry_after(error)
        except Exception as error:  # noqa: BLE001 (any failure to deliver is reported, never raised)
            last_error = type(error).__name__ + ": " + str(getattr(error, "reason", error))
        if attempt < attempts:
            time.sleep(wait if wait is not None else backoff_seconds * 2 ** (attempt - 1))
            wait = None
    return Delivery(False, attempt, last_error.replace(url, mask_url(url)))
