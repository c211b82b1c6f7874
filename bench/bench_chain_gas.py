"""Gas of the certificate ledger on a real node (anvil from contracts/node_modules, london).

    .venv/bin/python bench/bench_chain_gas.py

Prints gas per anchored certificate at batch sizes 1, 100, 1,000, 10,000 and gas per lifecycle
event (single and batched); asserts nothing.
"""

from __future__ import annotations

import os

from chain_client.connection import connect

from chain_client.contracts import contract, deploy_all, type_code_id
from chain_client.transactions import Sender
from ledger.merkle import build
from chain_client.devnode import AnvilNode, funded


def main() -> None:
    with AnvilNode() as node:
        w3 = connect(node.url)
        admin, dept = funded(w3, 2)
        d = deploy_all(Sender(w3, admin))
        registry, ledger = contract(w3, "IssuerRegistry", d.registry), contract(w3, "CertificateLedger", d.ledger)
        t1 = type_code_id("T1")
        Sender(w3, admin).transact(registry.functions.registerIssuer(dept.address, "bench", [t1]))
        s = Sender(w3, dept)
        kept = None
        for n in (1, 100, 1000, 10000):
            digests = [os.urandom(32) for _ in range(n)]
            root, proofs = build(digests)
            sent = s.transact(ledger.functions.anchorBatch(root, t1, n))
            print(f"anchor batch of {n:6,d}: {sent.gas_used:7,d} gas = {sent.gas_used / n:9.1f} gas per certificate")
            if n == 1000:
                kept = (digests, root, proofs)
        digests, root, proofs = kept
        zero = b"\0" * 32
        first = s.transact(ledger.functions.recordEvent((digests[0], root, proofs[digests[0]], 3, 1893456000, zero, zero)))
        later = s.transact(ledger.functions.recordEvent((digests[0], root, [], 1, 0, zero, zero)))
        print(f"first event of a certificate (with proof): {first.gas_used:,d} gas; a later event: {later.gas_used:,d} gas")
        batch = [(dg, root, proofs[dg], 1, 0, zero, zero) for dg in digests[1:101]]
        sent = s.transact(ledger.functions.recordEvents(batch))
        print(f"100 first events in one transaction: {sent.gas_used / 100:,.0f} gas per event")


if __name__ == "__main__":
    main()
