"""The lab's private CA and its servers' certificates (Python's cryptography; made once, kept in <root>/pki).

One certificate per region names every address of that region as an IP SAN (127.0.N.1-3; the CN
is the core address too, for TLS clients that still read it): MariaDB, the Designate API and
Keystone present it, and every client in the lab (dnsdr, Designate, replicas, keystonemiddleware)
checks it against ``ca.pem``. RSA keys: every TLS library in the lab (OpenSSL, MariaDB's) takes them.
"""

from __future__ import annotations

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dnsdr.lab.components import write_private
from dnsdr.lab.layout import ALL_REGIONS, Addresses, Paths

VALID_DAYS = 825
KEY_BITS = 2048


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _pem_key(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def region_addresses(region: str) -> tuple[str, ...]:
    a = Addresses(region)
    return (a.core, a.pdns, a.bind)


def _ca(paths: Paths) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    if paths.ca_cert.exists() and paths.ca_key.exists():
        key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key, x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"dnsdr lab CA ({paths.root.name})")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    write_private(paths.ca_key, _pem_key(key))
    paths.ca_cert.write_text(_pem_cert(cert), encoding="utf-8")
    return key, cert


def _server(paths: Paths, region: str, ca_key: rsa.RSAPrivateKey, ca: x509.Certificate) -> None:
    addresses = region_addresses(region)
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, addresses[0])]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    write_private(paths.server_key(region), _pem_key(key))
    paths.server_cert(region).write_text(_pem_cert(cert), encoding="utf-8")


def ensure(paths: Paths) -> None:
    """The CA and every region's certificate exist (made on first use; kept across restarts)."""
    paths.pki.mkdir(parents=True, exist_ok=True)
    missing = [r for r in ALL_REGIONS if not (paths.server_cert(r).exists() and paths.server_key(r).exists())]
    if paths.ca_cert.exists() and not missing:
        return
    ca_key, ca = _ca(paths)
    for region in missing:
        _server(paths, region, ca_key, ca)

