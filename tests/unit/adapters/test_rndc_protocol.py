"""isccc wire format and HMAC, checked against a real rndc <-> named 9.18 exchange.

The capture (data/rndc_status_capture.json) is `rndc status` run through a TCP relay against
named 9.18.49 with a test key: our encoder must reproduce rndc's frames byte for byte, and our
verifier must accept named's replies and reject any tampering.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest

from dnsdr.adapters import isccc
from dnsdr.adapters.rndc import RndcError, RndcKey, rndc_conf

CAPTURE = json.loads((Path(__file__).parent / "data" / "rndc_status_capture.json").read_text())
SECRET = base64.b64decode(CAPTURE["secret_b64"])
FRAMES = [(f["direction"], bytes.fromhex(f["hex"])) for f in CAPTURE["frames"]]


def _strings(table: isccc.Table) -> dict[str, str]:
    return {k: v.decode() for k, v in table.items() if isinstance(v, bytes)}


def test_capture_is_the_four_frame_login_and_status_exchange() -> None:
    assert [d for d, _ in FRAMES] == ["c2s", "s2c", "c2s", "s2c"]
    for _, frame in FRAMES:
        (length,) = struct.unpack(">I", frame[:4])
        assert length == len(frame) - 4
        assert frame[4:8] == b"\x00\x00\x00\x01"  # version 1


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_every_captured_frame_verifies(index: int) -> None:
    _, frame = FRAMES[index]
    msg = isccc.verify(CAPTURE["algorithm"], SECRET, frame[4:])
    assert set(msg) == {"_auth", "_ctrl", "_data"}
    hsha = isccc.subtable(msg, "_auth")["hsha"]
    assert isinstance(hsha, bytes) and len(hsha) == 89 and hsha[0] == 163  # ISCCC_ALG_HMACSHA256


@pytest.mark.parametrize("index", [0, 2])
def test_signing_reproduces_rndc_requests_byte_for_byte(index: int) -> None:
    _, frame = FRAMES[index]
    msg = isccc.verify("hmac-sha256", SECRET, frame[4:])
    again = isccc.sign("hmac-sha256", SECRET, _strings(isccc.subtable(msg, "_ctrl")), _strings(isccc.subtable(msg, "_data")))
    assert again == frame


def test_known_answer_hmac_of_the_login_request() -> None:
    # The digest named accepted for the first (nonce-less) request, as base64 text, zero padded.
    _, frame = FRAMES[0]
    hsha = isccc.subtable(isccc.decode_table(frame[8:]), "_auth")["hsha"]
    assert isinstance(hsha, bytes)
    assert hsha[1:45] == b"dLf546kiAt2mpuCA+VDWLqV8BcSst4ByrU8CxjaEIQA="
    assert hsha[45:] == b"\0" * 44


def test_nonce_handshake_as_named_does_it() -> None:
    login = isccc.verify("sha256", SECRET, FRAMES[0][1][4:])
    reply = isccc.verify("sha256", SECRET, FRAMES[1][1][4:])
    status = isccc.verify("sha256", SECRET, FRAMES[2][1][4:])
    answer = isccc.verify("sha256", SECRET, FRAMES[3][1][4:])
    assert "_nonce" not in isccc.subtable(login, "_ctrl")
    nonce = isccc.text(isccc.subtable(reply, "_ctrl"), "_nonce")
    assert nonce and nonce.isdigit()
    assert isccc.text(isccc.subtable(reply, "_ctrl"), "_rpl") == "1"
    assert isccc.text(isccc.subtable(reply, "_data"), "result") == "0"
    # The next request echoes the nonce and uses the next serial; the reply echoes the serial.
    ctrl = _strings(isccc.subtable(status, "_ctrl"))
    assert ctrl["_nonce"] == nonce
    assert int(ctrl["_ser"]) == int(_strings(isccc.subtable(login, "_ctrl"))["_ser"]) + 1
    assert int(ctrl["_exp"]) - int(ctrl["_tim"]) == 60
    assert isccc.text(isccc.subtable(status, "_data"), "type") == "status"
    assert isccc.text(isccc.subtable(answer, "_ctrl"), "_ser") == ctrl["_ser"]
    assert "server is up and running" in (isccc.text(isccc.subtable(answer, "_data"), "text") or "")


def test_wrong_key_and_tampering_are_rejected() -> None:
    _, frame = FRAMES[3]
    with pytest.raises(isccc.IscccError):
        isccc.verify("sha256", b"x" * 32, frame[4:])
    with pytest.raises(isccc.IscccError):
        isccc.verify("sha512", SECRET, frame[4:])  # algorithm octet mismatch
    tampered = bytearray(frame[4:])
    tampered[-1] ^= 1
    with pytest.raises(isccc.IscccError):
        isccc.verify("sha256", SECRET, bytes(tampered))


def test_table_round_trip_with_nested_tables_and_lists() -> None:
    table = {"a": b"1", "t": {"x": b"", "y": {"z": b"\x00\xff"}}, "l": [b"p", {"q": b"r"}, [b"s"]]}
    assert isccc.decode_table(isccc.encode_table(table)) == table
    assert isccc.encode_table({"k": "v"}) == b"\x01k\x01\x00\x00\x00\x01v"


@pytest.mark.parametrize("algo", ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"])
def test_sign_verify_round_trip_every_algorithm(algo: str) -> None:
    frame = isccc.sign(f"hmac-{algo}", b"k" * 20, {"_ser": "1", "_tim": "2", "_exp": "3"}, {"type": "null"})
    msg = isccc.verify(algo, b"k" * 20, frame[4:])
    assert isccc.text(isccc.subtable(msg, "_data"), "type") == "null"


def test_truncated_frames_are_errors() -> None:
    _, frame = FRAMES[1]
    with pytest.raises(isccc.IscccError):
        isccc.verify("sha256", SECRET, frame[4:-3])
    with pytest.raises(isccc.IscccError):
        isccc.normalise_algorithm("hmac-gost")


def test_key_material_forms_and_no_secret_in_repr() -> None:
    clause = 'key "rndc-key" {\n\talgorithm hmac-sha256;\n\tsecret "' + CAPTURE["secret_b64"] + '";\n};\n'
    key = RndcKey.parse(clause)
    assert (key.name, key.algorithm, key.secret) == ("rndc-key", "hmac-sha256", SECRET)
    assert CAPTURE["secret_b64"] not in repr(key) and "secret" not in repr(key)
    bare = RndcKey.parse(CAPTURE["secret_b64"] + "\n")
    assert bare.secret == SECRET and bare.algorithm == "hmac-sha256"
    assert RndcKey.parse(key.clause()) == key
    with pytest.raises(RndcError):
        RndcKey.parse("not a key !")


def test_rndc_conf_is_private_and_removed() -> None:
    key = RndcKey("k", "hmac-sha256", SECRET)
    with rndc_conf(key) as name:
        path = Path(name)
        assert path.stat().st_mode & 0o777 == 0o600
        assert 'default-key "k"' in path.read_text()
    assert not path.exists()
