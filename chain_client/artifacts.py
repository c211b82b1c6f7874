"""The contracts' built artifacts (ABI and bytecode): compiled from contracts/*.sol, committed.

Compiled by solc-js from npm (pinned in contracts/package.json) driven through py-solc-x's
``compile_standard`` with ``contracts/solc-shim.js`` as its solc binary (py-solc-x cannot fetch a
compiler here). The EVM version is london, a pre-merge fork our node runs (no PUSH0).
"""

from __future__ import annotations

import json
from pathlib import Path

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
BUILD_DIR = CONTRACTS_DIR / "build"
SHIM = CONTRACTS_DIR / "solc-shim.js"
SOURCES = ("IssuerRegistry.sol", "CertificateLedger.sol")
EVM_VERSION = "london"
SETTINGS = {
    "evmVersion": EVM_VERSION,
    "optimizer": {"enabled": True, "runs": 200},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


class BuildError(RuntimeError):
    pass


def compile_contracts() -> dict[str, dict]:
    """Compile the sources; returns name -> {abi, bytecode, deployedBytecode, compiler, evmVersion}."""
    import solcx

    if not (CONTRACTS_DIR / "node_modules" / "solc").exists():
        raise BuildError("solc-js is not installed: run `npm ci` in contracts/ (./scripts/test does)")
    sources = {name: {"content": (CONTRACTS_DIR / name).read_text(encoding="utf-8")} for name in SOURCES}
    try:
        out = solcx.compile_standard({"language": "Solidity", "sources": sources, "settings": SETTINGS},
                                     solc_binary=str(SHIM), allow_empty=False)
    except solcx.exceptions.SolcError as exc:
        raise BuildError(f"compilation failed: {exc}") from None
    errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise BuildError("; ".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
    version = solcx.get_solc_version_from_binary(str(SHIM)) if hasattr(solcx, "get_solc_version_from_binary") else None
    built = {}
    for source in SOURCES:
        for name, c in out["contracts"][source].items():
            built[name] = {
                "contractName": name, "sourceName": source, "abi": c["abi"],
                "bytecode": "0x" + c["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
                "evmVersion": EVM_VERSION, "compiler": str(version or ""),
            }
    return built


def write_artifacts(built: dict[str, dict], build_dir: Path = BUILD_DIR) -> list[Path]:
    build_dir.mkdir(exist_ok=True)
    paths = []
    for name, art in sorted(built.items()):
        path = build_dir / f"{name}.json"
        path.write_text(json.dumps(art, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def differences(built: dict[str, dict], build_dir: Path = BUILD_DIR) -> list[str]:
    """What differs between fresh compilation and the committed artifacts (empty when in step)."""
    problems = []
    for name, art in sorted(built.items()):
        path = build_dir / f"{name}.json"
        if not path.exists():
            problems.append(f"{name}: no committed artifact")
            continue
        committed = json.loads(path.read_text(encoding="utf-8"))
        for key in ("abi", "bytecode", "deployedBytecode", "evmVersion"):
            if committed.get(key) != art[key]:
                problems.append(f"{name}: {key} differs from the sources")
    return problems


def load(name: str) -> dict:
    """A committed artifact, for deploying and calling the contract."""
    path = BUILD_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"no artifact for {name}: run `certledger contracts build`") from None
