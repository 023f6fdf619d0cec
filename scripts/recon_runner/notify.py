"""Deliver a checkpoint message to a Slack-compatible webhook.

The URL comes from an environment variable only (never from a file in the
repository) and is never printed or stored: only its scheme and host
(mask_url), parsed or not. Credentials in it (https://user:password@host/...)
are sent as HTTP Basic authentication, never in the request line. A failed
delivery says why in words that cannot quote the URL (redacted). Delivery has a
timeout and retries; a failed delivery is reported, never fatal to the
checkpoint record.
"""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from .message import printable


@dataclass
class Delivery:
    delivered: bool
    attempts: int
    detail: str


def mask_url(url: str) -> str:
    """scheme://host/… : enough to tell which endpoint, never the credentials,
    the path, the query or the fragment (where the secret token is)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<malformed URL>"
    scheme = parts.scheme if parts.scheme in ("http", "https") else "?"
    if not all(character.isalnum() or character in ".-_:[]" for character in host):
        return f"{scheme}://?/…"
    return f"{scheme}://{host}{port}/…"


def secrets_of(url: str) -> list[str]:
    """Every part of the URL that may be secret: the whole URL, its credentials,
    path, query and fragment, and each piece of those (longest first)."""
    pieces = {url, url.strip()}
    try:
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        pieces.update({userinfo, parts.username or "", parts.password or "", parts.path, parts.query,
                       parts.fragment, unquote(parts.username or ""), unquote(parts.password or "")})
        for part in (userinfo, parts.path, parts.query, parts.fragment):
            for separator in "/:?&=#;@":
                pieces.update(part.split(separator))
    except ValueError:
        pass
    after_scheme = url.split("://", 1)[-1]
    pieces.update({after_scheme, after_scheme.split("/", 1)[-1]})
    pieces.update(after_scheme.replace("@", "/").replace(":", "/").split("/"))
    host = ""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        pass
    safe = {"", "http", "https", host}
    return sorted((piece for piece in pieces if piece not in safe and len(piece) >= 3), key=len, reverse=True)


def redact(text: str, url: str) -> str:
    """`text` with every secret part of `url` replaced by `…`."""
    for piece in secrets_of(url):
        text = text.replace(piece, "…")
    return text


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
    payload = {"text": slack_escape(text), "outcome": slack_escape(printable(summary.get("outcome", ""))),
               "checkpoint_id": slack_escape(printable(summary.get("checkpoint_id", "")))}
    if summary.get("after_verdict"):  # running with the verdict; failed on the message after it
        payload["after_verdict"] = slack_escape(printable(summary["after_verdict"].get("outcome", "")))
    return payload


def retry_after(error: urllib.error.HTTPError, longest: float = 60.0) -> float | None:
    """Seconds the endpoint asked us to wait (Retry-After in seconds), capped."""
    value = (error.headers or {}).get("Retry-After", "")
    try:
        return min(max(float(value), 0.0), longest)
    except ValueError:
        return None


def request_for(url: str, body: bytes) -> urllib.request.Request:
    """The POST to `url`, credentials (user:password@) moved into an
    Authorization header: urllib would read them as part of the host."""
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json"}
    if "@" in parts.netloc:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return urllib.request.Request(url, data=body, method="POST", headers=headers)


def failure_words(error: BaseException) -> str:
    """Why a delivery failed, in words that never quote the URL: the error's
    class and, for a network error, the operating system's reason."""
    reason = getattr(error, "reason", None)
    for cause in (reason, error):
        if isinstance(cause, (socket.timeout, TimeoutError)):
            return f"{type(error).__name__}: timed out"
        if isinstance(cause, OSError) and cause.strerror:
            return f"{type(error).__name__}: {cause.strerror}"
    return type(error).__name__


def post_json(url: str, payload: dict, timeout_seconds: float = 10.0, attempts: int = 3,
              backoff_seconds: float = 1.0) -> Delivery:
    body = json.dumps(payload).encode("utf-8")
    last_error = ""
    wait: float | None = None
    attempt = 0
    for attempt in range(1, attempts + 1):
        try:
            request = request_for(url, body)
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
            last_error = failure_words(error)
        if attempt < attempts:
            time.sleep(wait if wait is not None else backoff_seconds * 2 ** (attempt - 1))
            wait = None
    return Delivery(False, attempt, redact(last_error, url))
