"""Chat webhook URLs: masking for display, validation against request forgery."""

from __future__ import annotations

from urllib.parse import urlsplit


def mask(url: str) -> str:
    """https://oapi.dingtalk.com/…•••3f2a: the scheme and host, then the last four characters."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}/…•••{url[-4:]}"
