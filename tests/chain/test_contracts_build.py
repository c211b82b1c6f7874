"""The committed contract artifacts are exactly what the sources compile to."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chain_client.artifacts import BUILD_DIR, compile_contracts, differences, load

BIN = Path(sys.executable).with_name("certledger")


@pytest.fixture(scope="module")
def built():
    return compile_contracts()


def test_committed_artifacts_match_the_sources(built):
    assert differences(built) == [], "run `certledger contracts build` and commit contracts/build"


def test_london_bytecode_has_no_push0(built):
    """PUSH0 (0x5f) arrived with Shanghai; the pre-merge chain cannot run it."""

    for art in built.values():
        assert art["evmVersion"] == "london"
        code = bytes.fromhex(art["deployedBytecode"][2:])
        i = 0
        while i < len(code):  # walk opcodes, skipping PUSH data
            op = code[i]
            assert op != 0x5F, f"PUSH0 at {i} in {art['contractName']}"
            i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
            if op == 0xFE:  # INVALID marks the start of the metadata / data section
                break


def test_a_changed_artifact_is_reported(built, tmp_path):
    shutil.copytree(BUILD_DIR, tmp_path / "build")
    path = tmp_path / "build" / "CertificateLedger.json"
    art = json.loads(path.read_text())
    art["bytecode"] = art["bytecode"][:-2] + "00"
    path.write_text(json.dumps(art))
    assert differences(built, tmp_path / "build") == ["CertificateLedger: bytecode differs from the sources"]


def test_abi_has_custom_errors_and_the_linked_events():
    abi = load("CertificateLedger")["abi"]
    errors = {e["name"] for e in abi if e["type"] == "error"}
    assert {"NotTheIssuer", "FinalStatus", "NotInBatch", "NotAuthorisedIssuer"} <= errors
    event = next(e for e in abi if e["type"] == "event" and e["name"] == "CertificateEvent")
    assert "prevBlock" in [i["name"] for i in event["inputs"]]


def test_cli_check():
    r = subprocess.run([str(BIN), "contracts", "check"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "artifacts match" in r.stdout, r.stderr
