"""A real kube-apiserver, with its own etcd, on loopback for integration tests.

The binaries come from ``scripts/build-kube.sh`` (built from the Go module proxy into ``.cache/kube``, or taken from
``$DNSDR_KUBE_ASSETS``). Everything else lives in a private temporary directory: etcd data, service-account keys, the
self-signed serving certificate (``--cert-dir``), a token file and two kubeconfigs:

* ``admin``: group ``system:masters``, allowed everything;
* ``operator``: no groups, so it may do nothing until the test binds it to a Role or ClusterRole (RBAC is on).

There is no controller manager: no garbage collection, no namespace deletion, no service-account tokens. Use a fresh
namespace per test and never wait for a namespace to go away.

    with KubeApi() as api:
        client = kubernetes.config.new_client_from_config(str(api.admin_kubeconfig))

Children run in their own session (a Ctrl-C reaches only the test process, which stops them in order) and get SIGKILL
if the test process dies, so nothing is left behind. kube-apiserver is stopped before etcd: without etcd it does not
exit promptly on SIGTERM.
"""

from __future__ import annotations

import ctypes
import json
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-kube.sh"
GO_MISSING_EXIT = 3  # build-kube.sh: go is not installed, so this machine cannot build the binaries

_PR_SET_PDEATHSIG = 1


class KubeApiError(RuntimeError):
    """The API server could not be built or started."""


class KubeApiUnavailable(KubeApiError):
    """This machine can neither build the binaries (no go) nor was given them (``$DNSDR_KUBE_ASSETS``)."""


def kube_bin_dir() -> Path:
    """The directory holding kube-apiserver, etcd and kubectl; builds them first when missing (the script is a no-op
    once they are there, so the cold build, some 8 minutes on 2 cores, happens once per checkout and version).
    The script's progress lines are passed on to stderr as they come."""
    proc = subprocess.Popen(
        [str(BUILD_SCRIPT)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None and proc.stdout is not None
    errors: deque[str] = deque(maxlen=60)
    for line in proc.stderr:
        errors.append(line)
        sys.stderr.write(line)
    out = proc.stdout.read()
    status = proc.wait()
    if status == GO_MISSING_EXIT:
        raise KubeApiUnavailable(errors[-1].strip() if errors else "go is not installed")
    if status != 0:
        raise KubeApiError(f"{BUILD_SCRIPT} failed ({status}):\n{''.join(errors)}")
    lines = out.strip().splitlines()
    if not lines:
        raise KubeApiError(f"{BUILD_SCRIPT} printed no bin directory")
    return Path(lines[-1])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGKILL it when the process that started it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"


def _stop_process(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class KubeApi:
    """etcd plus kube-apiserver on free loopback ports; ``start()`` returns once ``/readyz`` answers ``ok``."""

    def __init__(
        self,
        bin_dir: Path | None = None,
        workdir: Path | None = None,
        ready_timeout: float = 180.0,
        extra_args: list[str] | None = None,
    ) -> None:
        self.bin_dir = bin_dir
        self.ready_timeout = ready_timeout
        self.extra_args = list(extra_args or [])
        self._given_workdir = workdir
        self.workdir: Path | None = None
        self.admin_token = secrets.token_hex(16)
        self.operator_token = secrets.token_hex(16)
        self._server: str | None = None
        self._etcd_url = ""
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None
        self.ready_seconds: float | None = None  # from starting kube-apiserver to /readyz ok

    # --- what tests use -------------------------------------------------------------------------------------------

    @property
    def server(self) -> str:
        if self._server is None:
            raise KubeApiError("the API server is not started")
        return self._server

    @property
    def ca_file(self) -> Path:
        return self._dir / "ca.crt"

    @property
    def admin_kubeconfig(self) -> Path:
        return self._dir / "admin.kubeconfig"

    @property
    def operator_kubeconfig(self) -> Path:
        return self._dir / "operator.kubeconfig"

    @property
    def kubectl(self) -> Path:
        assert self.bin_dir is not None
        return self.bin_dir / "kubectl"

    @property
    def apiserver_pid(self) -> int | None:
        return self._apiserver.pid if self._apiserver is not None else None

    def get(self, path: str, token: str | None = None, timeout: float = 5.0) -> tuple[int, str]:
        """GET ``path`` on the API server (admin token by default): the HTTP status and body."""
        request = urllib.request.Request(
            self.server + path, headers={"Authorization": f"Bearer {token or self.admin_token}"}
        )
        context = ssl.create_default_context(cafile=str(self.ca_file))
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    # --- lifecycle ------------------------------------------------------------------------------------------------

    def __enter__(self) -> KubeApi:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> KubeApi:
        if self._apiserver is not None:
            raise KubeApiError("already started")
        if self.bin_dir is None:
            self.bin_dir = kube_bin_dir()
        if self._given_workdir is not None:
            self._given_workdir.mkdir(parents=True, exist_ok=True)
            self.workdir = self._given_workdir
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="dnsdr-kubeapi-"))
        try:
            self._write_credentials()
            self._start_etcd()
            self._start_apiserver()
            self._write_kubeconfigs()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd (the other order makes kube-apiserver hang), then drop the directory we
        made. Safe to call more than once."""
        try:
            _stop_process(self._apiserver, timeout=30)
        finally:
            _stop_process(self._etcd, timeout=15)
        self._apiserver = self._etcd = None
        self._server = None
        if self.workdir is not None and self._given_workdir is None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None

    # --- internals ------------------------------------------------------------------------------------------------

    @property
    def _dir(self) -> Path:
        if self.workdir is None:
            raise KubeApiError("the API server is not started")
        return self.workdir

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self._dir / f"{name}.log").open("wb")
        try:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()

    def _write_credentials(self) -> None:
        key = self._dir / "sa.key"
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
        subprocess.run(
            ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(self._dir / "sa.pub")],
            check=True,
            capture_output=True,
        )
        # token,user,uid,"group,group": the operator has no group of its own (only system:authenticated).
        (self._dir / "tokens.csv").write_text(
            f'{self.admin_token},admin,admin-uid,"system:masters"\n{self.operator_token},operator,operator-uid\n'
        )
        (self._dir / "tokens.csv").chmod(0o600)

    def _start_etcd(self) -> None:
        assert self.bin_dir is not None
        client, peer = _free_port(), _free_port()
        self._etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        self._etcd = self._spawn(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                "--name=default",
                f"--data-dir={self._dir / 'etcd'}",
                f"--listen-client-urls={self._etcd_url}",
                f"--advertise-client-urls={self._etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        deadline = time.monotonic() + 30
        while True:
            if self._etcd.poll() is not None:
                raise KubeApiError(f"etcd exited ({self._etcd.returncode}):\n{_tail(self._dir / 'etcd.log')}")
            try:
                with urllib.request.urlopen(self._etcd_url + "/health", timeout=2) as response:
                    if json.loads(response.read()).get("health") == "true":
                        return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise KubeApiError(f"etcd not healthy after 30 s:\n{_tail(self._dir / 'etcd.log')}")
            time.sleep(0.1)

    def _start_apiserver(self) -> None:
        assert self.bin_dir is not None
        port = _free_port()
        self._server = f"https://127.0.0.1:{port}"
        certs = self._dir / "certs"
        started = time.monotonic()
        self._apiserver = self._spawn(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers={self._etcd_url}",
                f"--cert-dir={certs}",
                f"--secure-port={port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--service-cluster-ip-range=10.0.0.0/24",
                f"--service-account-issuer={self._server}/",
                f"--service-account-key-file={self._dir / 'sa.pub'}",
                f"--service-account-signing-key-file={self._dir / 'sa.key'}",
                f"--token-auth-file={self._dir / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--disable-admission-plugins=ServiceAccount",
                *self.extra_args,
            ],
        )
        deadline = started + self.ready_timeout
        last = "no answer yet"
        while True:
            if self._apiserver.poll() is not None:
                raise KubeApiError(
                    f"kube-apiserver exited ({self._apiserver.returncode}):\n{_tail(self._dir / 'kube-apiserver.log')}"
                )
            if self._copy_ca(certs / "apiserver.crt"):
                try:
                    status, body = self.get("/readyz", timeout=2)
                    if status == 200 and body.strip() == "ok":
                        self.ready_seconds = time.monotonic() - started
                        return
                    last = f"{status} {body[-500:]}"
                except (OSError, ssl.SSLError) as exc:
                    last = repr(exc)
            if time.monotonic() > deadline:
                raise KubeApiError(
                    f"kube-apiserver not ready after {self.ready_timeout:.0f} s (last /readyz: {last}):\n"
                    f"{_tail(self._dir / 'kube-apiserver.log')}"
                )
            time.sleep(0.2)

    def _copy_ca(self, served: Path) -> bool:
        """``--cert-dir`` gets the serving certificate followed by the self-signed CA that issued it: copy the CA to
        ``ca_file``. False while kube-apiserver has not written it yet."""
        try:
            text = served.read_text()
        except OSError:
            return False
        marker = "-----BEGIN CERTIFICATE-----"
        if not text.rstrip().endswith("-----END CERTIFICATE-----"):
            return False  # still being written
        self.ca_file.write_text(marker + text.split(marker)[-1])
        return True

    def _write_kubeconfigs(self) -> None:
        for user, token, path in (
            ("admin", self.admin_token, self.admin_kubeconfig),
            ("operator", self.operator_token, self.operator_kubeconfig),
        ):
            config: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "test", "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)}}
                ],
                "users": [{"name": user, "user": {"token": token}}],
                "contexts": [{"name": user, "context": {"cluster": "test", "user": user, "namespace": "default"}}],
                "current-context": user,
            }
            path.write_text(yaml.safe_dump(config, sort_keys=False))
            path.chmod(0o600)
