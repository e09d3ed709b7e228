"""Chat webhook URLs are credentials and a way into the network: masked for display, and
validated before they are kept and again before each send (https only, and the host must
resolve to public addresses only: no loopback, private, link-local, multicast or reserved
address, so a pasted URL cannot make Kaopu post into the company network). KAOPU_CHAT_ALLOW_PRIVATE
lifts both rules for DEBUG and the tests' fake servers on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


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
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_url(url: str) -> str:
    """The URL if Kaopu may post to it; ValidationError (in the reader's language) if not."""
    url = url.strip()
    parts = urlsplit(url)
    allow_private = settings.KAOPU_CHAT_ALLOW_PRIVATE
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValidationError(_("Paste the robot's whole webhook address, starting https://."))
    if parts.username or parts.password:
        raise ValidationError(_("The webhook address may not carry a user name or password."))
    if allow_private:
        return url
    try:
        port = parts.port or 443
        found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as error:
        raise ValidationError(
            _("Kaopu cannot find the host %(host)s.") % {"host": parts.hostname}
        ) from error
    if not found or not all(_public(str(info[4][0])) for info in found):
        raise ValidationError(
            _("That address points into a private network; Kaopu only posts to public robots.")
        )
    return url
