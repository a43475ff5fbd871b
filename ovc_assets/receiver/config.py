"""Receiver settings from the environment, and who a request comes from.

| variable | meaning |
|---|---|
| `OVC_TOKEN` | the secure route's token; unset, `/tv_secure` answers 503 |
| `OVC_ALLOWED_IPS` | comma-separated addresses or CIDR networks, `tradingview` for TradingView's senders; unset: any source |
| `OVC_TRUSTED_PROXIES` | addresses or networks whose `X-Forwarded-For` is believed; unset: the header is ignored |
| `OVC_DEDUPE_WINDOW_HOURS` | how far apart two equal bodies still count as one event (default 24) |
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.settings import Settings
from ovc_assets.storage.raw_events import DEFAULT_DEDUPE_WINDOW
from ovc_assets.storage.raw_store import FileRawStore, RawStore

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

TRADINGVIEW_PRESET = "tradingview"
TRADINGVIEW_ADDRESSES = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
"""The addresses TradingView sends webhooks from (its documentation)."""

SPOOL_DIR_NAME = "spool"


@dataclass(frozen=True)
class ReceiverConfig:
    """What the receiver needs beyond the database and the raw store."""

    spool_dir: Path
    token: str | None = field(default=None, repr=False)
    allowed_networks: tuple[IPNetwork, ...] | None = None
    trusted_proxies: tuple[IPNetwork, ...] = ()
    dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW


def load_receiver_config(settings: Settings, store: RawStore) -> ReceiverConfig:
    """The receiver's settings from the environment; a bad value is `E_CONFIG`."""
    allowed = os.environ.get("OVC_ALLOWED_IPS", "").strip()
    allowed_networks = parse_networks(allowed, "OVC_ALLOWED_IPS") if allowed else None
    if allowed_networks == ():
        raise OvcError(ErrorCode.CONFIG, "OVC_ALLOWED_IPS is set but lists no address; unset it to allow any source")
    return ReceiverConfig(
        spool_dir=default_spool_dir(settings, store),
        token=os.environ.get("OVC_TOKEN") or None,
        allowed_networks=allowed_networks,
        trusted_proxies=parse_networks(os.environ.get("OVC_TRUSTED_PROXIES", ""), "OVC_TRUSTED_PROXIES"),
        dedupe_window=_dedupe_window(os.environ.get("OVC_DEDUPE_WINDOW_HOURS")),
    )


def default_spool_dir(settings: Settings, store: RawStore) -> Path:
    """Where group-commit segments go: `.spool` inside a file raw store (same disk, hidden
    from its keys), `$OVC_HOME/spool` for a bucket."""
    if isinstance(store, FileRawStore):
        return Path(unquote(urlsplit(store.location).path)) / f".{SPOOL_DIR_NAME}"
    return settings.home / SPOOL_DIR_NAME


def parse_networks(text: str, variable: str) -> tuple[IPNetwork, ...]:
    """Comma-separated addresses, networks and the `tradingview` preset, as networks."""
    networks: list[IPNetwork] = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        names = TRADINGVIEW_ADDRESSES if entry.lower() == TRADINGVIEW_PRESET else (entry,)
        for name in names:
            try:
                networks.append(ipaddress.ip_network(name, strict=False))
            except ValueError:
                raise OvcError(ErrorCode.CONFIG, f"{variable}: {entry[:60]!r} is not an address or network") from None
    return tuple(networks)


def _dedupe_window(text: str | None) -> timedelta:
    if not text:
        return DEFAULT_DEDUPE_WINDOW
    try:
        hours = float(text)
    except ValueError:
        hours = -1.0
    if not 0 < hours < 24 * 365:
        raise OvcError(ErrorCode.CONFIG, f"OVC_DEDUPE_WINDOW_HOURS must be a positive number of hours, got {text[:30]!r}")
    return timedelta(hours=hours)


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: tuple[IPNetwork, ...]) -> str | None:
    """The sender's address: the peer, or, through trusted proxies only, the nearest address
    in `X-Forwarded-For` that is not itself a trusted proxy.

    The header is read right to left, and only as far as each hop is a trusted proxy, so a
    sender cannot choose its own address by writing the header. A malformed entry ends the
    walk at the proxy that reported it.
    """
    if not (forwarded_for and trusted_proxies and peer):
        return peer
    current = _address(peer)
    if current is None:
        return peer
    hops = [hop for hop in (forwarded_for or "").split(",") if hop.strip()]
    while hops and _within(current, trusted_proxies):
        previous = _address(hops.pop())
        if previous is None:
            break
        current = previous
    return str(current)


def is_allowed(address: str | None, allowed_networks: tuple[IPNetwork, ...] | None) -> bool:
    """Whether a sender may post: always without an allow-list, else if its address is listed."""
    if allowed_networks is None:
        return True
    parsed = _address(address) if address else None
    return parsed is not None and _within(parsed, allowed_networks)
