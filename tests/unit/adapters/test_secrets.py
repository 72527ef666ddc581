"""One rule for resolved credentials: surrounding whitespace stripped once, then non-empty and free of
control characters (a BIND key clause may span lines); every refusal names the reference, never the
value, and comes at once whatever the file is."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnsdr.adapters.rndc import RndcKey
from dnsdr.adapters.secrets import SecretError, resolve, resolved_values
from dnsdr.cli.main import cli
from dnsdr.domain.spec import SecretRef
from tests.conftest import EXAMPLE

VALUE = "Sup3r-S3cret-v4lue"
REF = SecretRef(secret_name="creds", secret_key="api-key")
TSIG = ('key "rndc-r1" {\n\talgorithm hmac-sha256;\n\tsecret "c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy1sb25nIQ==";\n};\n')


def _write(directory: Path, data: bytes) -> Path:
    path = directory / "creds" / "api-key"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("raw", [VALUE, f"{VALUE}\n", f"{VALUE}\n\n\n", f"{VALUE}\r\n", f"{VALUE}\r\n\r\n",
                                 f"  {VALUE} \t\n", f"\n{VALUE}\n"])
def test_surrounding_whitespace_is_stripped_from_files_and_the_environment(tmp_path: Path, raw: str,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, raw.encode())
    assert resolve(REF, tmp_path) == VALUE
    monkeypatch.setenv("DNSDR_TEST_SECRET", raw)
    assert resolve(SecretRef(env="DNSDR_TEST_SECRET")) == VALUE
    assert VALUE in resolved_values()


def test_inner_spaces_belong_to_the_value(tmp_path: Path) -> None:
    _write(tmp_path, b"correct horse battery staple\n")
    assert resolve(REF, tmp_path) == "correct horse battery staple"


def _refusal(tmp_path: Path, data: bytes) -> str:
    path = _write(tmp_path, data)
    started = time.monotonic()
    with pytest.raises(SecretError) as caught:
        resolve(REF, tmp_path)
    assert time.monotonic() - started < 2.0
    message = str(caught.value)
    assert f"secret creds/api-key at {path}" in message and "\n" not in message
    assert VALUE not in message and "marker" not in message
    return message


@pytest.mark.parametrize(("raw", "expected"), [
    (b"", "is empty"),
    (b"\n\r\n \t\n", "is empty"),
    (f"{VALUE}\nsecond-line-marker\n".encode(), "contains a line break inside the value"),
    (f"{VALUE}\rmarker".encode(), "contains a line break inside the value"),
    (f"{VALUE}\x00marker".encode(), "contains a control character inside the value"),
    (f"{VALUE}\x1b[2Jmarker".encode(), "contains a control character"),
    (f"{VALUE}\tmarker".encode(), "contains a control character"),
    (f"{VALUE}\x7f".encode(), "contains a control character"),
    (f"{VALUE}\u2028marker".encode(), "contains a line break"),
    (f"{VALUE}\u0085marker".encode(), "contains a control character"),
    (f"{VALUE}-caf\xe9".encode("latin-1"), "not UTF-8 text"),
    (b"x" * (64 * 1024 + 1), "larger than 64 KiB, the limit for a secret"),
])
def test_a_bad_value_is_refused_naming_the_reference_only(tmp_path: Path, raw: bytes, expected: str) -> None:
    before = resolved_values()
    assert expected in _refusal(tmp_path, raw)
    assert resolved_values() == before  # a refused value is not remembered either


def test_a_bad_environment_value_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNSDR_TEST_SECRET", f"{VALUE}\nmarker")
    with pytest.raises(SecretError, match=r"^environment variable DNSDR_TEST_SECRET contains a line break") as caught:
        resolve(SecretRef(env="DNSDR_TEST_SECRET"))
    assert VALUE not in str(caught.value)
    monkeypatch.setenv("DNSDR_TEST_SECRET", "  \n")
    with pytest.raises(SecretError, match=r"^environment variable DNSDR_TEST_SECRET is empty$"):
        resolve(SecretRef(env="DNSDR_TEST_SECRET"))


@pytest.mark.parametrize("clause", [TSIG, TSIG.replace("\n", "\r\n"), "\n" + TSIG + "\n\n"])
def test_a_bind_key_clause_may_span_lines(tmp_path: Path, clause: str) -> None:
    _write(tmp_path, clause.encode())
    value = resolve(REF, tmp_path)
    assert value == clause.strip()
    assert RndcKey.parse(value).name == "rndc-r1"


def test_a_key_clause_still_refuses_other_control_characters(tmp_path: Path) -> None:
    assert "control character" in _refusal(tmp_path, TSIG.replace("algorithm", "\x00algorithm").encode())


KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters:\n- name: r2\n  cluster:\n\tserver: https://k\ncurrent-context: r2\n"


def test_a_multiline_reference_keeps_its_lines_and_a_plain_one_does_not(tmp_path: Path) -> None:
    _write(tmp_path, KUBECONFIG.encode())
    document = SecretRef(secret_name="creds", secret_key="api-key", multiline=True)
    assert resolve(document, tmp_path) == KUBECONFIG.strip()
    with pytest.raises(SecretError, match="contains a line break inside the value"):
        resolve(REF, tmp_path)
    _write(tmp_path, KUBECONFIG.replace("kind", "\x1bkind").encode())
    with pytest.raises(SecretError, match=r"^secret creds/api-key at .* contains a control character"):
        resolve(document, tmp_path)


def test_a_fifo_a_device_or_a_directory_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "creds" / "api-key"
    path.parent.mkdir()
    os.mkfifo(path)
    started = time.monotonic()
    with pytest.raises(SecretError, match=f"^cannot read secret creds/api-key at {path}: a FIFO"):
        resolve(REF, tmp_path)
    with pytest.raises(SecretError, match=r"^cannot read file /dev/zero: a character device"):
        resolve(SecretRef(file="/dev/zero"))
    with pytest.raises(SecretError, match=f"^cannot read file {tmp_path}: a directory"):
        resolve(SecretRef(file=str(tmp_path)))
    with pytest.raises(SecretError, match=f"^cannot read secret creds/absent at {tmp_path}/creds/absent: no such file$"):
        resolve(SecretRef(secret_name="creds", secret_key="absent"), tmp_path)
    assert time.monotonic() - started < 2.0


def _render(tmp_path: Path, token: bytes) -> tuple[int, str, Path]:
    for key in ("r1-pdns-api-key", "r2-pdns-api-key"):
        path = tmp_path / "secrets" / "dnsdr-credentials" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(token)
    out = tmp_path / "pools.yml"
    result = CliRunner().invoke(cli, ["pools", "render", "-c", str(EXAMPLE), "--secrets-dir", str(tmp_path / "secrets"),
                                      "-o", str(out)])
    return result.exit_code, result.output, out


def test_a_token_file_ending_in_several_newlines_renders_the_bare_token(tmp_path: Path) -> None:
    code, output, out = _render(tmp_path, f"{VALUE}\r\n\n\n".encode())
    assert code == 0, output
    assert f"api_token: {VALUE}\n" in out.read_text()


def test_a_token_with_a_line_break_inside_fails_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    code, output, out = _render(tmp_path, f"{VALUE}\nmarker\n".encode())
    assert code == 1 and len(output.splitlines()) == 1 and "Traceback" not in output
    assert "secret dnsdr-credentials/r1-pdns-api-key at" in output and "contains a line break" in output
    assert VALUE not in output and not out.exists()
