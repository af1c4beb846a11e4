"""The run's trust for Java: ``DIR/truststore.p12``, a PKCS12 truststore with no password.

Setting ``javax.net.ssl.trustStore`` replaces the JVM's own roots instead of adding to them,
so the store holds the system roots (the same source as ``ca-bundle.pem``) plus the run's
root. Java treats a PKCS12 certificate bag as a trusted-certificate entry only when it carries
Oracle's trusted-key-usage attribute (2.16.840.1.113894.746875.1.1); cryptography's
``serialize_java_truststore`` writes exactly that, so no ASN.1 is assembled here.

No password, on purpose. The bags are written unencrypted (with a MAC keyed by the empty
password). With ``javax.net.ssl.trustStorePassword`` unset (or empty) JSSE loads the store
with a null password; Java 17 (and 25, both tested) then skips the MAC and reads every bag
that is not encrypted. A password-protected store, whose bags are
encrypted, therefore loads as an *empty* truststore and every handshake fails, unless every
JVM is also given the password, in ``JAVA_TOOL_OPTIONS`` where ``ps`` shows it anyway. The
contents are public certificates, so the password would protect nothing. The one thing not
to do: set ``-Djavax.net.ssl.trustStorePassword=changeit`` (some images do) beside this
store: the JVM then checks the MAC with that password and refuses the file.

No JKS: Java 8 and later read PKCS12 trusted-certificate entries (``trustStoreType=PKCS12``;
from Java 9 PKCS12 is also the default keystore type), older JVMs are out of support, and
no well-kept Python library writes JKS.

>>> path = write_truststore(Path("run/egress-ca"), system_roots(), authority.root)
>>> java_tool_options(path, "127.0.0.1", 4580)
'-Djavax.net.ssl.trustStore=run/egress-ca/truststore.p12 ...'
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

TRUSTSTORE_NAME = "truststore.p12"
RUN_ROOT_ALIAS = "gameday-egress-run-root"
"""The alias of the run's root in the store (``keytool -list -alias ...``)."""

NON_PROXY_HOSTS = "localhost|127.*|[::1]|169.254.169.254|169.254.170.2|169.254.170.23"
"""Java's ``NO_PROXY``: the JVM's default loopback exclusions plus instance metadata, task
credentials and EKS pod identity. Java applies ``http.nonProxyHosts`` to https too."""

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)
_MODE = 0o644
"""Readable by the app's user (often another uid than the proxy's), writable by the owner only."""


def write_truststore(directory: Path, roots_pem: bytes, run_root: x509.Certificate) -> Path:
    """Write ``directory/truststore.p12`` (mode 0644, replaced atomically) holding every
    certificate of ``roots_pem`` and ``run_root``, each a trusted-certificate entry; return
    its path.

    A root the installed cryptography cannot parse is left out (a JVM then lacks only that
    one root); the tests count the entries against the bundle's blocks, so it shows there.
    """
    entries = _entries(roots_pem, run_root)
    data = pkcs12.serialize_java_truststore(entries, serialization.NoEncryption())
    path = directory / TRUSTSTORE_NAME
    # A JVM starting while the store is rewritten must see the old file or the new, never half.
    fd, temporary = tempfile.mkstemp(prefix=".truststore-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            os.fchmod(file.fileno(), _MODE)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path


def java_tool_options(truststore: Path, proxy_host: str, proxy_port: int) -> str:
    """The ``JAVA_TOOL_OPTIONS`` value that makes a JVM trust ``truststore`` and send HTTPS
    through the proxy (``HttpsURLConnection``, the Java SDK v2's Netty and CRT clients).

    The truststore password stays unset on purpose (see the module docstring).
    """
    return (
        f"-Djavax.net.ssl.trustStore={truststore} -Djavax.net.ssl.trustStoreType=PKCS12 "
        f"-Dhttps.proxyHost={proxy_host} -Dhttps.proxyPort={proxy_port} "
        f"-Dhttp.nonProxyHosts={NON_PROXY_HOSTS}"
    )


def _entries(roots_pem: bytes, run_root: x509.Certificate) -> list[pkcs12.PKCS12Certificate]:
    run_der = run_root.public_bytes(serialization.Encoding.DER)
    entries = [pkcs12.PKCS12Certificate(run_root, RUN_ROOT_ALIAS.encode())]
    seen_der = {run_der}
    # Java keys entries by lower-cased alias: two roots under one alias would leave one.
    seen_alias = {RUN_ROOT_ALIAS}
    for block in _PEM_CERTIFICATE.findall(roots_pem):
        certificate = _load(block)
        if certificate is None:
            continue
        der = certificate.public_bytes(serialization.Encoding.DER)
        if der in seen_der:
            continue
        seen_der.add(der)
        alias = _label(certificate).lower()
        if alias in seen_alias:
            alias = f"{alias} {hashlib.sha256(der).hexdigest()[:16]}"
        seen_alias.add(alias)
        entries.append(pkcs12.PKCS12Certificate(certificate, alias.encode()))
    return entries


def _load(block: bytes) -> x509.Certificate | None:
    # Six roots of certifi's bundle (Starfield Services Root CA G2, on AWS's own chains, among
    # them) have serial number 0, which RFC 5280 forbids and cryptography warns about; the
    # roots are not ours to fix, and every JVM accepts them.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            return x509.load_pem_x509_certificate(block)
        except ValueError:
            return None


def _label(certificate: x509.Certificate) -> str:
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.ORGANIZATION_NAME):
        attributes = certificate.subject.get_attributes_for_oid(oid)
        if attributes:
            return str(attributes[0].value)
    return "root"
