"""Client TLS from the spec: contexts that check the server's certificate and name, and clear failures.

One rule for every connection dnsdr opens (MySQL/MariaDB, Keystone, the Designate API): with
``mode: verify`` the server must present a certificate that chains to the spec's CA (``caRef``, a
PEM bundle; else the system's trust store) and names the host dnsdr dialled (an IP address must be
an IP SAN). There is no "encrypt but do not verify" mode: it would protect against nobody who can
intercept. ``mode: disabled`` means plain connections, which only a spec can ask for.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import ssl
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from dnsdr.adapters.secrets import SecretError
from dnsdr.domain.errors import NeedsOperator
from dnsdr.domain.spec import SecretLookup, TlsSpec

_lock = threading.Lock()
_contexts: dict[str, ssl.SSLContext] = {}
_ca_dir: Path | None = None


class TlsError(NeedsOperator):
    """A server's certificate was refused, or the CA could not be loaded: an operator must fix trust."""


def _ca_pem(tls: TlsSpec, resolver: SecretLookup) -> str | None:
    if tls.ca is None:
        return None
    try:
        pem = resolver(replace(tls.ca, multiline=True))  # a bundle spans lines, however the reference was made
    except SecretError as exc:
        raise TlsError(f"the CA bundle: {exc}") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise TlsError(f"the CA bundle ({tls.ca.describe()}) holds no PEM certificate")
    return pem


def client_context(tls: TlsSpec, resolver: SecretLookup) -> ssl.SSLContext | None:
    """A context that verifies the peer (certificate and host name), or None when TLS is disabled."""
    if not tls.enabled:
        return None
    pem = _ca_pem(tls, resolver)
    key = hashlib.sha256((pem or "").encode()).hexdigest()
    with _lock:
        if key not in _contexts:
            try:
                context = ssl.create_default_context(cadata=pem) if pem else ssl.create_default_context()
            except ssl.SSLError as exc:
                where = tls.ca.describe() if tls.ca else "the system trust store"
                raise TlsError(f"cannot load the CA bundle from {where}: {exc.reason or exc}") from None
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            _contexts[key] = context
        return _contexts[key]


def verify_argument(tls: TlsSpec, resolver: SecretLookup) -> str | bool:
    """What ``requests`` (hence keystoneauth1) takes as ``verify``: a CA file's path, or True for the
    system's store. A CA that is not a file (a Secret key, a variable) is written once to a private
    temporary file, removed at exit."""
    if tls.ca is not None and tls.ca.file is not None:
        _ca_pem(tls, resolver)  # readable and a certificate: fail here rather than deep in requests
        return tls.ca.file
    pem = _ca_pem(tls, resolver)
    if pem is None:
        return True
    global _ca_dir
    with _lock:
        if _ca_dir is None:
            _ca_dir = Path(tempfile.mkdtemp(prefix="dnsdr-ca-"))
            atexit.register(shutil.rmtree, _ca_dir, True)
        path = _ca_dir / (hashlib.sha256(pem.encode()).hexdigest()[:16] + ".pem")
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(pem + "\n")
        return str(path)


def certificate_problem(exc: BaseException) -> str | None:
    """Why a TLS handshake failed, as an operator would fix it; None when ``exc`` is no TLS failure."""
    seen: BaseException | None = exc
    for _ in range(6):  # the TLS error may sit a few causes deep (PyMySQL, urllib3, requests wrap it)
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"the server's certificate was refused: {seen.verify_message or seen.reason}"
        if isinstance(seen, ssl.SSLError):
            return f"TLS handshake failed: {seen.reason or type(seen).__name__}"
        seen = getattr(seen, "original_exception", None) or seen.__cause__ or seen.__context__
    return None
