"""The CA's leaf cache: bounded (least recently used dropped, with its key file), and every
leaf offers HTTP/2 as well as HTTP/1.1 over ALPN, checked with a real TLS handshake."""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path

import pytest

from gameday.egress.ca import LEAF_CACHE_SIZE, CertificateAuthority


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path_factory.mktemp("ca") / "ca", leaf_cache_size=3)


def _host(name: str) -> str:
    return f"{name}.s3.us-east-1.amazonaws.com"


def test_the_cache_keeps_the_most_recently_used_leaves(authority: CertificateAuthority) -> None:
    first = authority.server_context(_host("a"))
    authority.server_context(_host("b"))
    authority.server_context(_host("c"))
    assert authority.server_context(_host("a")) is first  # a hit: now the most recent
    authority.server_context(_host("d"))  # over the size: b, least recently used, goes
    assert authority.cached_hosts == (_host("c"), _host("a"), _host("d"))
    leaves = {path.name for path in (authority.directory / "leaves").iterdir()}
    assert leaves == {f"{_host(name)}.pem" for name in "cad"}  # b's key file went too
    assert authority.server_context(_host("a")) is first
    again = authority.server_context(_host("b"))  # minted anew
    assert len(authority.cached_hosts) == 3 and _host("b") in authority.cached_hosts
    assert again is not first


def test_the_default_size_is_bounded(tmp_path: Path) -> None:
    authority = CertificateAuthority.create(tmp_path / "ca")
    for index in range(LEAF_CACHE_SIZE + 5):
        authority.server_context(_host(f"bucket{index}"))
    assert len(authority.cached_hosts) == LEAF_CACHE_SIZE
    assert authority.cached_hosts[0] == _host("bucket5")


def _negotiate(authority: CertificateAuthority, offered: list[str]) -> str | None:
    """A TLS handshake in memory against the leaf: the protocol ALPN picked."""
    host = _host("alpn")
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = authority.server_context(host).wrap_bio(to_server, to_client, server_side=True)
    client_context = ssl.create_default_context(cafile=str(authority.bundle_path))
    if offered:
        client_context.set_alpn_protocols(offered)
    client = client_context.wrap_bio(to_client, to_server, server_hostname=host)
    for _ in range(10):
        for side in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):  # waiting for the other side
                side.do_handshake()
    client.do_handshake()  # raises unless the handshake (and the chain) completed
    return client.selected_alpn_protocol()


def test_a_leaf_offers_h2_and_http11(authority: CertificateAuthority) -> None:
    assert _negotiate(authority, ["h2", "http/1.1"]) == "h2"
    assert _negotiate(authority, ["http/1.1"]) == "http/1.1"
    assert _negotiate(authority, []) is None  # no ALPN: the proxy serves HTTP/1.1
