"""The Java truststore: every system root plus the run's root, each an entry the JDK's own
keytool reads as a trustedCertEntry with no password."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import stat
import subprocess
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from gameday.egress.ca import CertificateAuthority, system_roots
from gameday.egress.truststore import (
    RUN_ROOT_ALIAS,
    TRUSTSTORE_NAME,
    java_tool_options,
    write_truststore,
)

KEYTOOL = shutil.which("keytool")
needs_keytool = pytest.mark.skipif(KEYTOOL is None, reason="needs a JDK's keytool")


def _blocks(pem: bytes) -> int:
    """Distinct certificates in a PEM bundle (the store keeps each once)."""
    found = re.findall(rb"-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----", pem)
    return len({b"".join(block.split()) for block in found})


def _entries(path: Path) -> list[pkcs12.PKCS12Certificate]:
    with warnings.catch_warnings():
        # certifi's serial-0 roots (see truststore._load).
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return pkcs12.load_pkcs12(path.read_bytes(), None).additional_certs


def _keytool(path: Path, *extra: str) -> str:
    assert KEYTOOL is not None
    # No -storepass and no stdin: exactly what a JVM with trustStorePassword unset does.
    done = subprocess.run(
        [KEYTOOL, "-list", "-keystore", str(path), "-storetype", "PKCS12", *extra],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _self_signed(common_name: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


@pytest.fixture
def authority(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path / "ca")


def test_the_store_holds_every_system_root_and_the_run_root(
    authority: CertificateAuthority,
) -> None:
    roots = system_roots()
    path = write_truststore(authority.directory, roots, authority.root)

    assert path == authority.directory / TRUSTSTORE_NAME
    entries = _entries(path)
    assert len(entries) == _blocks(roots) + 1
    by_alias = {entry.friendly_name: entry.certificate for entry in entries}
    assert len(by_alias) == len(entries), "aliases must be unique: Java keeps one per alias"
    assert by_alias[RUN_ROOT_ALIAS.encode()] == authority.root


@needs_keytool
def test_keytool_lists_each_entry_as_trusted_without_a_password(
    authority: CertificateAuthority,
) -> None:
    roots = system_roots()
    path = write_truststore(authority.directory, roots, authority.root)

    listing = _keytool(path)
    assert f"Your keystore contains {_blocks(roots) + 1} entries" in listing
    assert listing.count("trustedCertEntry") == _blocks(roots) + 1
    assert "PrivateKeyEntry" not in listing

    ours = _keytool(path, "-alias", RUN_ROOT_ALIAS)
    assert ours.startswith(f"{RUN_ROOT_ALIAS}, ")
    assert ", trustedCertEntry," in ours
    fingerprint = authority.root.fingerprint(hashes.SHA256()).hex(":").upper()
    assert f"Certificate fingerprint (SHA-256): {fingerprint}" in ours


def test_duplicates_collapse_and_same_named_roots_keep_distinct_aliases(tmp_path: Path) -> None:
    twins = [_self_signed("Twin Root"), _self_signed("Twin Root")]
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in twins)
    run_root = _self_signed("run")
    # The bundle twice over, and the run's root inside it too: each certificate once.
    path = write_truststore(
        tmp_path, pem + pem + run_root.public_bytes(serialization.Encoding.PEM), run_root
    )

    entries = _entries(path)
    assert len(entries) == 3
    assert {entry.certificate for entry in entries} == {*twins, run_root}
    aliases = [entry.friendly_name or b"" for entry in entries]
    assert len(set(aliases)) == 3
    assert b"twin root" in aliases


def test_the_file_is_readable_by_all_and_writable_only_by_its_owner(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        path = write_truststore(tmp_path, b"", _self_signed("run"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [TRUSTSTORE_NAME]


def test_rewriting_replaces_the_store(tmp_path: Path) -> None:
    first, second = _self_signed("first"), _self_signed("second")
    write_truststore(tmp_path, b"", first)
    path = write_truststore(tmp_path, b"", second)
    assert [entry.certificate for entry in _entries(path)] == [second]


def test_java_tool_options_name_the_store_the_proxy_and_no_password(tmp_path: Path) -> None:
    options = java_tool_options(tmp_path / TRUSTSTORE_NAME, "127.0.0.1", 4580).split()
    assert options == [
        f"-Djavax.net.ssl.trustStore={tmp_path / TRUSTSTORE_NAME}",
        "-Djavax.net.ssl.trustStoreType=PKCS12",
        "-Dhttps.proxyHost=127.0.0.1",
        "-Dhttps.proxyPort=4580",
        "-Dhttp.nonProxyHosts=localhost|127.*|[::1]|169.254.169.254|169.254.170.2|169.254.170.23",
    ]
