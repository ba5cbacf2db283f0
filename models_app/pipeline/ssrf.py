"""Outbound HTTP for webhooks, guarded against server-side request forgery.

A webhook URL is chosen by a user, so the registry must never be made to call into its own network:
the target host is resolved, every address it resolves to must be public (not loopback, private,
link-local, multicast, reserved or unspecified, also when embedded in IPv6 forms), and the request then
connects to the address that was checked, not to a fresh lookup that could answer differently (DNS
rebinding). Redirects are never followed and proxies from the environment are ignored. All of this is
checked when a subscription is saved and again at every delivery. ``settings.WEBHOOK_ALLOW_PRIVATE_TARGETS``
lifts the address rule for local development and tests; the pinning and the no-redirect rule stay.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from models_app.exceptions import InvalidInput

MAX_URL_LENGTH = 2000
EXCERPT_BYTES = 1024
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeWebhookTarget(InvalidInput):
    """The webhook URL is malformed or points at an address the registry must not call."""

    code = "unsafe_webhook_target"


@dataclass(frozen=True)
class Target:
    """A checked webhook target: the URL's parts and the one address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


@dataclass(frozen=True)
class SendResult:
    """What one POST produced (``error`` is set when no HTTP answer arrived)."""

    status_code: int | None
    excerpt: str
    duration_ms: int
    address: str
    error: str = ""
    location: str = ""


def resolve_host(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to (tests replace this to simulate DNS answers)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(address: str) -> str | None:
    """Why the registry must not connect to ``address``, or None when it is a public unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"'{address}' is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            problem = address_problem(str(inner))
            return f"{problem} (embedded in {ip})" if problem else None
    for attribute, label in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(ip, attribute):
            return f"{ip} is a {label} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def check_url(url: object, *, field: str = "url") -> tuple[str, str, int]:
    """The shape rules: http(s), a host, no credentials. Returns (scheme, host, port)."""
    if not isinstance(url, str) or not url:
        raise UnsafeWebhookTarget("Must be an http:// or https:// URL.", field=field)
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookTarget(f"Must be at most {MAX_URL_LENGTH} characters.", field=field)
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise UnsafeWebhookTarget("Must not contain spaces or control characters.", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookTarget(f"Not a valid URL ({exc}).", field=field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookTarget("Must be an http:// or https:// URL with a host.", field=field)
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookTarget("Must not contain a user name or password.", field=field)
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve_target(url: str, *, field: str = "url", allow_private: bool | None = None) -> Target:
    """Check ``url`` and pick the address to connect to; UnsafeWebhookTarget when it must not be called.

    Every resolved address must pass, not just the first: a name that also resolves to an internal
    address is refused as a whole.
    """
    scheme, host, port = check_url(url, field=field)
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_TARGETS
    try:
        addresses = resolve_host(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeWebhookTarget(f"The host '{host}' does not resolve ({exc}).", field=field) from None
    if not addresses:
        raise UnsafeWebhookTarget(f"The host '{host}' does not resolve.", field=field)
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise UnsafeWebhookTarget(
                    f"Webhook targets must be public: '{host}' resolves to {problem}.", field=field
                )
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])


def _pinned(target: Target) -> tuple[httpx.URL, dict[str, str], dict]:
    url = httpx.URL(target.url)
    host_header = url.netloc.decode("ascii")
    pinned = url.copy_with(host=target.address)
    # TLS still verifies the certificate against the name the user gave, not the address.
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return pinned, {"Host": host_header}, extensions


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float | None = None) -> SendResult:
    """POST ``body`` to a checked webhook URL, connecting only to the checked address.

    Never raises for network trouble: the result's ``error`` says what went wrong. Raises
    UnsafeWebhookTarget when the URL must not be called.
    """
    target = resolve_target(url)
    pinned_url, host_header, extensions = _pinned(target)
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS if timeout is None else timeout
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream(
                "POST",
                pinned_url,
                content=body,
                headers={**headers, **host_header},
                extensions=extensions,
            ) as response,
        ):
            excerpt = bytearray()
            for chunk in response.iter_bytes():
                excerpt.extend(chunk)
                if len(excerpt) >= EXCERPT_BYTES:
                    break
            return SendResult(
                status_code=response.status_code,
                excerpt=bytes(excerpt[:EXCERPT_BYTES]).decode("utf-8", errors="replace"),
                duration_ms=elapsed(),
                address=target.address,
                location=response.headers.get("location", "")[:500],
            )
    except httpx.TimeoutException as exc:
        error = f"Timed out after {timeout:g}s ({exc.__class__.__name__})."
    except httpx.HTTPError as exc:
        error = f"{exc.__class__.__name__}: {exc}"[:1000]
    return SendResult(
        status_code=None, excerpt="", duration_ms=elapsed(), address=target.address, error=error
    )
