"""Keystone for dnsdr's Designate API calls: a keystoneauth1 session from the spec's ``auth``.

The session authenticates (an application credential, a user and password, or a clouds.yaml entry
through openstacksdk's loader), caches the token and re-authenticates when it expires; the catalog
gives each region's ``dns`` endpoint. Every Designate call carries the session's token
(:func:`designate_api`); the calls themselves keep the bounded exchange of ``designate_api.py``.

Nothing secret leaves this module: errors name Keystone's URL and what was refused, bounded and
scrubbed of the password, the application credential secret and the current token; every token
obtained is added to the values log output is scrubbed of.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from dnsdr.adapters.designate_api import DEFAULT_PROJECT, DesignateApi
from dnsdr.adapters.secrets import SecretError, remember_secret, resolve
from dnsdr.adapters.shown import brief
from dnsdr.adapters.tls import TlsError, certificate_problem, client_context, verify_argument
from dnsdr.domain.errors import DnsdrError, NeedsOperator, RetryLater
from dnsdr.domain.spec import AuthSpec, AuthType, DesignateDR, SecretLookup, TlsSpec

SERVICE_TYPE = "dns"


class KeystoneError(RetryLater):
    """Keystone could not be reached, or answered something unusable; never carries a secret."""


class KeystoneConfigError(KeystoneError, NeedsOperator):
    """The credentials were refused, the cloud is unknown, or the catalog lacks the endpoint: an operator must act."""


class KeystoneSession:
    """One identity's keystoneauth1 session: a token (cached, renewed), and ``dns`` endpoints per region."""

    def __init__(self, auth: AuthSpec, tls: TlsSpec, resolver: SecretLookup = resolve, timeout: float = 30.0) -> None:
        if auth.type is AuthType.NONE:
            raise KeystoneConfigError("auth type none has no Keystone session")
        self.auth = auth
        self._secrets: list[str] = []
        self._lock = threading.Lock()
        try:
            if auth.type is AuthType.CLOUD:
                self._session, self.where, found = _cloud_session(auth, tls, resolver, timeout)
                self._secrets += found
            else:
                plugin = self._plugin(auth, resolver)
                self.where = brief(auth.auth_url or "", 200)
                self._session = ks_session.Session(auth=plugin, verify=verify_argument(tls, resolver), timeout=timeout,
                                                   user_agent="dnsdr")
        except SecretError as exc:
            raise KeystoneConfigError(f"Keystone credential: {exc}") from None

    def _plugin(self, auth: AuthSpec, resolver: SecretLookup) -> Any:
        assert auth.auth_url is not None  # the spec requires it for both types
        if auth.type is AuthType.PASSWORD:
            assert auth.password is not None
            password = self._secret(resolver(auth.password))
            return v3.Password(auth_url=auth.auth_url, username=auth.username, user_domain_name=auth.user_domain,
                               password=password, project_name=auth.project,
                               project_domain_name=auth.project_domain)
        assert auth.application_credential_secret is not None
        secret = self._secret(resolver(auth.application_credential_secret))
        return v3.ApplicationCredential(
            auth_url=auth.auth_url, application_credential_id=auth.application_credential_id,
            application_credential_name=auth.application_credential_name, application_credential_secret=secret,
            username=auth.username, user_domain_name=auth.user_domain)

    def _secret(self, value: str) -> str:
        self._secrets.append(value)
        return value

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values no message may show: the credentials and the tokens obtained."""
        return tuple(self._secrets)

    def _fail(self, what: str, exc: BaseException) -> DnsdrError:
        problem = certificate_problem(exc)
        if problem is not None:
            return TlsError(brief(f"Keystone {self.where}: {what}: TLS: {problem}", 400, self._secrets))
        if isinstance(exc, ks_exc.Unauthorized):
            return KeystoneConfigError(f"Keystone {self.where}: {what}: the credentials were refused (HTTP 401); "
                                       f"check the {self.auth.type.value} credential in spec.auth")
        if isinstance(exc, ks_exc.EndpointNotFound):
            return KeystoneConfigError(f"Keystone {self.where}: {what}: the catalog has no {SERVICE_TYPE} endpoint "
                                       f"({self.auth.interface})")
        if isinstance(exc, ks_exc.ConnectionError):
            return KeystoneError(brief(f"Keystone {self.where}: {what}: cannot connect ({type(exc).__name__})", 400,
                                       self._secrets))
        if isinstance(exc, ks_exc.HttpError):
            detail = brief(str(exc.message or ""), 200, self._secrets)
            return KeystoneError(f"Keystone {self.where}: {what}: HTTP {exc.http_status}: {detail}")
        return KeystoneError(brief(f"Keystone {self.where}: {what}: {type(exc).__name__}: {exc}", 400, self._secrets))

    def token(self) -> str:
        """A valid token (keystoneauth1 re-authenticates shortly before one expires)."""
        try:
            with self._lock:
                token = self._session.get_token()
        except (ks_exc.ClientException, OSError) as exc:
            raise self._fail("authenticating", exc) from None
        if not token:
            raise KeystoneConfigError(f"Keystone {self.where}: no token was issued")
        if token not in self._secrets:
            self._secrets.append(remember_secret(token))
        return str(token)

    def invalidate(self) -> None:
        """Forget the token (Designate refused it): the next call authenticates again."""
        with self._lock:
            self._session.invalidate()

    def endpoint(self, region_name: str) -> str:
        """The ``dns`` endpoint of ``region_name`` in the token's catalog."""
        try:
            with self._lock:
                url = self._session.get_endpoint(service_type=SERVICE_TYPE, interface=self.auth.interface,
                                                 region_name=region_name)
        except (ks_exc.ClientException, OSError) as exc:
            raise self._fail(f"the {SERVICE_TYPE} endpoint of region {region_name}", exc) from None
        if not url:
            raise KeystoneConfigError(f"Keystone {self.where}: the catalog has no {SERVICE_TYPE} endpoint in region "
                                      f"{region_name} ({self.auth.interface})")
        return str(url)


def _cloud_session(auth: AuthSpec, tls: TlsSpec, resolver: SecretLookup,
                   timeout: float) -> tuple[Any, str, list[str]]:
    """A session from clouds.yaml (the entry ``auth.cloud``, else ``$OS_CLOUD``), as the OpenStack CLI reads it.

    The spec's CA, when it names one, overrides the entry's ``cacert``; openstacksdk is imported only here.
    """
    import os

    try:
        from openstack import config as os_config
        from openstack import exceptions as os_exc
    except ImportError:
        raise KeystoneConfigError("spec.auth type cloud reads clouds.yaml with openstacksdk, which is not installed "
                                  "(pip install 'dnsdr[clouds]')") from None
    name = auth.cloud or os.environ.get("OS_CLOUD")
    if not name:
        raise KeystoneConfigError("spec.auth names no cloud and OS_CLOUD is not set: say how dnsdr authenticates "
                                  "(spec.auth: type password, applicationCredential, or cloud with its name)")
    overrides: dict[str, Any] = {"api_timeout": timeout}
    if tls.ca is not None:
        overrides["cacert"] = verify_argument(tls, resolver)
    try:
        with warnings.catch_warnings():  # openstacksdk warns about optional metrics libraries on stderr
            warnings.simplefilter("ignore")
            region = os_config.OpenStackConfig().get_one(cloud=name, **overrides)
            session = region.get_session()
    except (os_exc.SDKException, ks_exc.ClientException, KeyError, ValueError) as exc:
        raise KeystoneConfigError(brief(f"clouds.yaml entry {name!r}: {type(exc).__name__}: {exc}", 300)) from None
    if session.verify is False and tls.enabled:
        raise KeystoneConfigError(f"clouds.yaml entry {name!r} turns certificate checks off (verify: false); "
                                  "the spec's tls mode is verify")
    found = [str(v) for k, v in (region.config.get("auth") or {}).items()
             if k in ("password", "application_credential_secret", "token") and v]
    return session, f"(cloud {name})", [remember_secret(v) for v in found]


def designate_api(spec: DesignateDR, region: str, resolver: SecretLookup = resolve, *,
                  project_id: str = DEFAULT_PROJECT, timeout: float = 30.0, all_projects: bool = False,
                  sudo: bool = False) -> DesignateApi:
    """A client of ``region``'s Designate API as the spec authenticates: a Keystone token and the
    catalog's endpoint; with ``auth: {type: none}``, the spec's API endpoint and noauth headers for
    ``project_id``. Either way over the spec's TLS. ``sudo``: with a token, act in ``project_id``
    (Designate's X-Auth-Sudo-Project-ID, for an admin), as noauth does."""
    designate = spec.region(region).designate
    if designate is None:
        raise KeystoneConfigError(f"region {region} has no Designate")
    tls = client_context(spec.tls, resolver)
    if spec.auth.type is AuthType.NONE:
        return DesignateApi(f"{designate.api_scheme}://{designate.api}", project_id=project_id, tls=tls,
                            timeout=timeout, all_projects=all_projects)
    keystone = KeystoneSession(spec.auth, spec.tls, resolver, timeout)
    return DesignateApi(keystone.endpoint(spec.keystone_region(region)), auth=keystone, tls=tls, timeout=timeout,
                        all_projects=all_projects, sudo_project=project_id if sudo else None)
