"""Chat webhook URLs are credentials and a way into the network: masked for display, and
validated before they are kept and again at each send (https only, and the host must resolve
to global addresses only: no loopback, private, shared (100.64.0.0/10, where cloud metadata
such as Alibaba's 100.100.100.200 lives), link-local, multicast or reserved address, so a
pasted URL cannot make Kaopu post into the company network). KAOPU_CHAT_ALLOW_PRIVATE lifts
both rules for DEBUG and the tests' fake servers on 127.0.0.1.

At send time the worker connects to the very address it checked (`resolve`), so a name that
answers a public address to the check and a private one to the connection (DNS rebinding)
gets nowhere; a name that does not resolve at that moment is a passing fault (`HostNotFound`,
retried), not a broken robot.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class HostNotFound(Exception):
    """The webhook's host did not resolve just now (DNS down, a passing failure)."""


def mask(url: str) -> str:
    """https://oapi.dingtalk.com/…•••3f2a: the scheme and host, then the last four characters."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}/…•••{url[-4:]}"


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global leaves out 100.64.0.0/10 (carrier-grade NAT, cloud metadata), which
    # is_private does not name; multicast can be global, so it is named too.
    return ip.is_global and not ip.is_multicast


def _shape(url: str) -> tuple[str, int]:
    """The host and port of a URL Kaopu may post to, else ValidationError."""
    whole = _("Paste the robot's whole webhook address, starting https://.")
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError as error:
        raise ValidationError(whole) from error
    schemes = ("https", "http") if settings.KAOPU_CHAT_ALLOW_PRIVATE else ("https",)
    if parts.scheme not in schemes or not hostname:
        raise ValidationError(whole)
    if parts.username or parts.password:
        raise ValidationError(_("The webhook address may not carry a user name or password."))
    return hostname, port or (443 if parts.scheme == "https" else 80)


def resolve(url: str) -> str:
    """The address to connect to for this URL: the first one its host resolves to, all of
    which must be public (else ValidationError). HostNotFound when the name does not resolve
    now: the caller decides whether that is the user's typo or a passing fault."""
    host, port = _shape(url)
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError) as error:
        raise HostNotFound(type(error).__name__) from None
    if not found:
        raise HostNotFound("no address")
    addresses = [str(info[4][0]) for info in found]
    if not settings.KAOPU_CHAT_ALLOW_PRIVATE and not all(_public(a) for a in addresses):
        raise ValidationError(
            _("That address points into a private network; Kaopu only posts to public robots.")
        )
    return addresses[0]


def check_url(url: str) -> str:
    """The URL if Kaopu may post to it; ValidationError (in the reader's language) if not.
    Run when a person saves a robot: a host that does not resolve is a typo to show them."""
    url = url.strip()
    host, _port = _shape(url)
    if settings.KAOPU_CHAT_ALLOW_PRIVATE:
        return url
    try:
        resolve(url)
    except HostNotFound:
        raise ValidationError(_("Kaopu cannot find the host %(host)s.") % {"host": host}) from None
    return url


def pinned(url: str, address: str) -> tuple[str, str, str]:
    """The URL with its host replaced by the checked address, the Host header and the TLS
    server name to send: the connection goes to `address`, the certificate is checked for the
    name."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    header = host if parts.port is None else f"{host}:{parts.port}"
    return parts._replace(netloc=netloc).geturl(), header, host
