"""The per-run certificate authority of the egress proxy.

A root made for one run and a name-constrained intermediate that may only sign AWS names
(``amazonaws.com``, ``amazonaws.com.cn``, ``api.aws`` and their subdomains). The root's key
is dropped once the intermediate is signed; the intermediate's key is the only key kept, in
``DIR/ca-key.pem`` (mode 0600), so a leaked key can still mint nothing but AWS names, and
only until the certificates expire (hours).

>>> authority = CertificateAuthority.create(Path("run/egress-ca"), valid_hours=12)
>>> context = authority.server_context("sts.us-east-1.amazonaws.com")
"""

from __future__ import annotations

import contextlib
import datetime
import os
import ssl
import threading
from collections import OrderedDict
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gameday.egress.truststore import write_truststore
from gameday.errors import InvalidInputError

PERMITTED_SUFFIXES = ("amazonaws.com", "amazonaws.com.cn", "api.aws")
"""The DNS subtrees the intermediate may sign (RFC 5280 4.2.1.10: a dNSName constraint
``amazonaws.com`` covers the name and every name under it)."""

BUNDLE_NAME = "ca-bundle.pem"
KEY_NAME = "ca-key.pem"
ROOT_NAME = "ca.pem"
INTERMEDIATE_NAME = "intermediate.pem"

_SYSTEM_BUNDLES = (
    Path("/etc/ssl/certs/ca-certificates.crt"),  # Debian, Ubuntu, Alpine
    Path("/etc/pki/tls/certs/ca-bundle.crt"),  # Fedora, RHEL, Amazon Linux
)
LEAF_CACHE_SIZE = 256
"""Leaf TLS contexts kept, least recently used dropped first. A run decrypts one host per
targeted service and region (a few dozen), plus one per S3 bucket addressed virtual-host
style (``bucket.s3.REGION.amazonaws.com``): 256 holds those for one app, at tens of kB of
memory a context (a few MB in all), while a client that CONNECTs to ever new names can no
longer grow the proxy without end. A dropped leaf costs a new mint (a millisecond or two of
CPU) if its host comes back."""
ALPN_PROTOCOLS = ("h2", "http/1.1")
"""Offered on every leaf, in the server's order of preference; a client that offers neither
(or nothing) speaks HTTP/1.1."""

_SKEW = datetime.timedelta(minutes=5)
"""Certificates start this far in the past: a client whose clock is a little behind still
accepts them."""


def is_aws_name(host: str) -> bool:
    """Whether the intermediate may sign ``host``."""
    host = host.lower().rstrip(".")
    return any(host == s or host.endswith("." + s) for s in PERMITTED_SUFFIXES)


def system_roots() -> bytes:
    """The roots the machine trusts: ``SSL_CERT_FILE`` when set (OpenSSL's own override of
    its default roots, which a site with its own TLS-inspecting root uses), else certifi's
    bundle where installed, else the OS file."""
    override = os.environ.get("SSL_CERT_FILE")
    if override and Path(override).is_file():
        return Path(override).read_bytes()
    spec = find_spec("certifi")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "cacert.pem"
        if bundled.is_file():
            return bundled.read_bytes()
    for path in _SYSTEM_BUNDLES:
        if path.is_file():
            return path.read_bytes()
    return b""


@dataclass(frozen=True, slots=True)
class _Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


class CertificateAuthority:
    """The run's CA: mints one leaf per host on demand and caches its TLS context."""

    def __init__(
        self,
        directory: Path,
        root: x509.Certificate,
        intermediate: _Issued,
        *,
        leaf_cache_size: int = LEAF_CACHE_SIZE,
    ) -> None:
        self.directory = directory
        self.root = root
        self._intermediate = intermediate
        self._contexts: OrderedDict[str, ssl.SSLContext] = OrderedDict()
        self._cache_size = max(1, leaf_cache_size)
        self._lock = threading.Lock()

    @property
    def bundle_path(self) -> Path:
        """System roots plus this run's root: for ``AWS_CA_BUNDLE`` / ``NODE_EXTRA_CA_CERTS``."""
        return self.directory / BUNDLE_NAME

    @property
    def intermediate(self) -> x509.Certificate:
        return self._intermediate.certificate

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        valid_hours: float = 12.0,
        now: datetime.datetime | None = None,
        leaf_cache_size: int = LEAF_CACHE_SIZE,
    ) -> CertificateAuthority:
        """A new root and intermediate, written to ``directory`` (made 0700 if missing)."""
        if valid_hours <= 0:
            raise InvalidInputError(f"CA validity {valid_hours} h: must be more than 0")
        start = (now or datetime.datetime.now(datetime.UTC)) - _SKEW
        end = start + _SKEW + datetime.timedelta(hours=valid_hours)
        root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = _name("gameday egress root (one run)")
        root = (
            _builder(root_name, root_name, root_key.public_key(), start, end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .sign(root_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        constraints = x509.NameConstraints(
            permitted_subtrees=[x509.DNSName(s) for s in PERMITTED_SUFFIXES],
            excluded_subtrees=None,
        )
        intermediate = (
            _builder(_name("gameday egress AWS-only CA"), root_name, key.public_key(), start, end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(constraints, critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                critical=False,
            )
            .sign(root_key, hashes.SHA256())
        )
        del root_key  # never written: only the constrained intermediate can sign from here on
        authority = cls(
            directory, root, _Issued(intermediate, key), leaf_cache_size=leaf_cache_size
        )
        authority._write()
        return authority

    def _write(self) -> None:
        directory = self.directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key_pem = self._intermediate.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(directory / KEY_NAME, key_pem)
        root_pem = self.root.public_bytes(serialization.Encoding.PEM)
        (directory / ROOT_NAME).write_bytes(root_pem)
        (directory / INTERMEDIATE_NAME).write_bytes(
            self.intermediate.public_bytes(serialization.Encoding.PEM)
        )
        roots = system_roots()
        separator = b"" if not roots or roots.endswith(b"\n") else b"\n"
        self.bundle_path.write_bytes(roots + separator + root_pem)
        write_truststore(directory, roots, self.root)

    def issue(self, host: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A leaf for ``host``, signed by the intermediate; InvalidInputError for a name
        outside the permitted subtrees (no client would accept it anyway)."""
        if not is_aws_name(host):
            raise InvalidInputError(
                f"{host!r} is not an AWS name: the egress CA signs only "
                + ", ".join(PERMITTED_SUFFIXES)
            )
        issuer = self._intermediate
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(
                _name(host),
                issuer.certificate.subject,
                key.public_key(),
                issuer.certificate.not_valid_before_utc,
                issuer.certificate.not_valid_after_utc,
            )
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                critical=False,
            )
            .sign(issuer.key, hashes.SHA256())
        )
        return cert, key

    def server_context(self, host: str) -> ssl.SSLContext:
        """The TLS server context presenting ``host``'s leaf, offering ALPN h2 and http/1.1
        (minted on first use; the last ``LEAF_CACHE_SIZE`` hosts used are cached)."""
        host = host.lower().rstrip(".")
        with self._lock:
            context = self._contexts.get(host)
            if context is not None:
                self._contexts.move_to_end(host)
                return context
            context = self._context_for(host)
            self._contexts[host] = context
            if len(self._contexts) > self._cache_size:
                dropped, _ = self._contexts.popitem(last=False)
                # Its key file goes too: the folder holds no more leaf keys than the cache.
                with contextlib.suppress(FileNotFoundError):
                    self._leaf_path(dropped).unlink()
            return context

    @property
    def cached_hosts(self) -> tuple[str, ...]:
        """Hosts whose leaf context is cached, least recently used first."""
        with self._lock:
            return tuple(self._contexts)

    def _leaf_path(self, host: str) -> Path:
        return self.directory / "leaves" / f"{host}.pem"

    def _context_for(self, host: str) -> ssl.SSLContext:
        cert, key = self.issue(host)
        # ssl loads a chain from files only: the leaf's key goes beside the CA key, 0600.
        path = self._leaf_path(host)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        _write_private(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            + cert.public_bytes(serialization.Encoding.PEM)
            + self.intermediate.public_bytes(serialization.Encoding.PEM),
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(path)
        context.set_alpn_protocols(list(ALPN_PROTOCOLS))
        return context


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start: a chmod after writing leaves a window where others read it.
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    start: datetime.datetime,
    end: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
