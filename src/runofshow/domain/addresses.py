"""Addresses in the plan, checked when the plan is validated rather than when a run first uses them.

    HttpUrlText     an http:// or https:// URL with a host: `http://127.0.0.1:9090`, not
                    `127.0.0.1:9090` or `localhost`
    ListenAddress   host and port to listen on: `127.0.0.1:8080`, `[::1]:8080` (IPv6 in brackets);
                    port 0 picks a free port; `split_listen` gives (host, port) to bind

Both stay plain `str` once validated. Pure: parsing only, no name lookups.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

_SCHEMES = ("http", "https")


def check_http_url(value: str) -> str:
    """`value` when it is an http(s) URL with a host; ValueError saying what is missing otherwise."""
    if value != value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"'{value}' has white space in it")
    parts = urlsplit(value)
    if parts.scheme.lower() not in _SCHEMES or not value.lower().startswith(f"{parts.scheme.lower()}://"):
        raise ValueError("needs http:// or https://")
    if not parts.hostname:
        raise ValueError(f"'{value}' has no host")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise ValueError(f"'{value}' has a port that is not a number from 0 to 65535") from None
    return value


def check_listen(value: str) -> str:
    """`value` when it is `host:port` (`[v6]:port`); ValueError saying what is wrong otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"'{value}' needs host and port, e.g. 127.0.0.1:8080")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"'{value}' needs a port from 0 to 65535 after the last ':'")
    if "/" in host or any(c.isspace() for c in host):
        raise ValueError(f"'{value}' needs host and port, e.g. 127.0.0.1:8080, not a URL")
    if host.startswith("[") or host.endswith("]"):
        inner = host.removeprefix("[").removesuffix("]")
        if not (host.startswith("[") and host.endswith("]")) or not _is_ipv6(inner):
            raise ValueError(f"'{value}': only an IPv6 address goes in brackets, e.g. [::1]:8080")
    elif ":" in host:
        raise ValueError(f"'{value}': an IPv6 address goes in brackets, e.g. [::1]:8080")
    return value


def split_listen(value: str) -> tuple[str, int]:
    """A checked `host:port` as (host, port), brackets off: '[::1]:8080' -> ('::1', 8080).
    ValueError, as `check_listen`, when it is not one."""
    host, _, port = check_listen(value).rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


HttpUrlText = Annotated[str, AfterValidator(check_http_url)]
ListenAddress = Annotated[str, AfterValidator(check_listen)]

__all__ = ["HttpUrlText", "ListenAddress", "check_http_url", "check_listen", "split_listen"]
