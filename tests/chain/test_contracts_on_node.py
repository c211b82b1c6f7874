"""The contracts' rules, on a real node (anvil and ours): who may anchor and change what, and what is final."""

import os

import pytest

from chain_client.contracts import contract, deploy_all, type_code_id
from chain_client.transactions import Reverted, Sender
from ledger.merkle import build

T1, T2 = type_code_id("11100000000013338W032"), type_code_id("11100000000013338W099")
KIND = {"ReportLoss": 1, "Revoke": 2, "AnnualReview": 3, "Change": 4}


@pytest.fixture(scope="module")
def chain(w3, new_accounts):
    admin, dept_a, dept_b, stranger = new_accounts(4)
    deployed = deploy_all(Sender(w3, admin))
    registry, ledger = contract(w3, "IssuerRegistry", deployed.registry), contract(w3, "CertificateLedger", deployed.ledger)
    s = {a.address: Sender(w3, a) for a in (admin, dept_a, dept_b, stranger)}
    s[admin.address].transact(registry.functions.registerIssuer(dept_a.address, "哈尔滨市市场监督管理局", [T1]))
    s[admin.address].transact(registry.functions.registerIssuer(dept_b.address, "大庆市市场监督管理局", [T2]))
    return dict(w3=w3, registry=registry, ledger=ledger, admin=s[admin.address], a=s[dept_a.address],
                b=s[dept_b.address], stranger=s[stranger.address])


def anchor(c, sender, n=4, type_code=T1):
    digests = [os.urandom(32) for _ in range(n)]
    root, proofs = build(digests)
    sent = sender.transact(c["ledger"].functions.anchorBatch(root, type_code, n))
    return digests, root, proofs, sent


def event(digest, root, proof, kind, due=0, new=b"\0" * 32, reason=b"\0" * 32):
    return (digest, root, proof, KIND[kind], due, new, reason)


def test_only_registrars_change_the_registry(chain):
    with pytest.raises(Reverted, match="AccessControlUnauthorizedAccount"):
        chain["stranger"].transact(chain["registry"].functions.registerIssuer(chain["stranger"].account.address, "x", [T1]))


def test_anchor_needs_an_authorised_issuer_and_type(chain):
    with pytest.raises(Reverted, match="NotAuthorisedIssuer"):
        anchor(chain, chain["stranger"])
    with pytest.raises(Reverted, match="NotAuthorisedIssuer"):
        anchor(chain, chain["a"], type_code=T2)
    digests, root, proofs, sent = anchor(chain, chain["a"])
    issuer, type_code, count, block = chain["ledger"].functions.rootInfo(root).call()
    assert (issuer, type_code, count, block) == (chain["a"].account.address, T1, 4, sent.block)
    with pytest.raises(Reverted, match="RootAlreadyAnchored"):
        chain["a"].transact(chain["ledger"].functions.anchorBatch(root, T1, 4))


def test_status_and_inclusion_from_the_ledger_alone(chain):
    digests, root, proofs, sent = anchor(chain, chain["a"])
    d = digests[1]
    status = chain["ledger"].functions.statusOf(d, root, proofs[d]).call()
    assert status[0] == 1 and status[1] == chain["a"].account.address  # Effective, by dept a
    assert chain["ledger"].functions.verifyInclusion(d, root, proofs[d]).call()
    never = os.urandom(32)
    assert not chain["ledger"].functions.verifyInclusion(never, root, proofs[d]).call()
    assert chain["ledger"].functions.statusOf(never, root, proofs[d]).call()[0] == 0


def test_events_walk_back_by_block_and_revoked_is_final(chain):
    digests, root, proofs, sent = anchor(chain, chain["a"])
    d = digests[0]
    led = chain["ledger"]
    e1 = chain["a"].transact(led.functions.recordEvent(event(d, root, proofs[d], "AnnualReview", due=1893456000)))
    e2 = chain["a"].transact(led.functions.recordEvent(event(d, root, [], "ReportLoss")))
    e3 = chain["a"].transact(led.functions.recordEvent(event(d, root, [], "Revoke")))
    logs = led.events.CertificateEvent().get_logs(from_block=sent.block, argument_filters={"digest": d})
    assert [l["args"]["prevBlock"] for l in logs] == [sent.block, e1.block, e2.block]
    assert led.functions.statusOf(d, root, proofs[d]).call()[0] == 3  # Revoked
    for kind in ("AnnualReview", "ReportLoss", "Revoke", "Change"):
        with pytest.raises(Reverted, match="FinalStatus"):
            chain["a"].transact(led.functions.recordEvent(event(d, root, [], kind, due=1, new=b"\1" * 32)))
    with pytest.raises(Reverted, match="FinalStatus"):
        chain["admin"].transact(led.functions.recordEvent(event(d, root, [], "AnnualReview", due=1)))


def test_another_department_and_a_suspended_one_cannot_change_certificates(chain):
    digests, root, proofs, _ = anchor(chain, chain["a"])
    led = chain["ledger"]
    d = digests[2]
    with pytest.raises(Reverted, match="NotTheIssuer"):
        chain["b"].transact(led.functions.recordEvent(event(d, root, proofs[d], "Revoke")))
    with pytest.raises(Reverted, match="NotInBatch"):
        chain["a"].transact(led.functions.recordEvent(event(os.urandom(32), root, proofs[d], "Revoke")))
    with pytest.raises(Reverted, match="UnknownRoot"):
        chain["a"].transact(led.functions.recordEvent(event(d, os.urandom(32), proofs[d], "Revoke")))
    chain["admin"].transact(chain["registry"].functions.suspendIssuer(chain["b"].account.address))
    with pytest.raises(Reverted, match="NotAuthorisedIssuer"):
        anchor(chain, chain["b"], type_code=T2)
    # an admin may change any certificate
    chain["admin"].transact(led.functions.recordEvent(event(d, root, proofs[d], "ReportLoss")))
    assert led.functions.statusOf(d, root, proofs[d]).call()[0] == 2


def test_batched_events_are_all_or_nothing(chain):
    digests, root, proofs, _ = anchor(chain, chain["a"])
    led = chain["ledger"]
    batch = [event(d, root, proofs[d], "ReportLoss") for d in digests[:3]]
    batch.append(event(digests[3], root, proofs[digests[3]], "AnnualReview"))  # no due date: refused
    with pytest.raises(Reverted, match="MissingValue"):
        chain["a"].transact(led.functions.recordEvents(batch))
    assert all(led.functions.statusOf(d, root, proofs[d]).call()[0] == 1 for d in digests)
    chain["a"].transact(led.functions.recordEvents(batch[:3]))
    assert [led.functions.statusOf(d, root, proofs[d]).call()[0] for d in digests] == [2, 2, 2, 1]


def test_gas_per_anchored_certificate_is_under_100_at_1000(chain):
    _, _, _, sent = anchor(chain, chain["a"], n=1000)
    assert sent.gas_used / 1000 < 100


def test_reader_walks_history_from_logs_and_checks_proofs_both_ways(chain):
    from chain_client.reader import LedgerReader

    digests, root, proofs, sent = anchor(chain, chain["a"])
    d = digests[3]
    led = chain["ledger"]
    r = LedgerReader(led)
    assert [e.kind for e in r.history(d, root, proofs[d])] == ["issue"]
    chain["a"].transact(led.functions.recordEvent(event(d, root, proofs[d], "AnnualReview", due=1893456000)))
    chain["a"].transact(led.functions.recordEvent(event(d, root, [], "Change", new=b"\7" * 32)))
    hist = r.history(d, root, proofs[d])
    assert [e.kind for e in hist] == ["issue", "annual_review", "change"]
    assert hist[0].block == sent.block and hist[1].prev_block == sent.block and hist[2].prev_block == hist[1].block
    assert r.status(d, root, proofs[d])["status"] == "superseded"
    assert r.verify_inclusion(d, root, proofs[d]) == (True, True)
    never = os.urandom(32)
    assert r.verify_inclusion(never, root, proofs[d]) == (False, False)
    assert r.history(never, root, proofs[d]) == [] and r.root(os.urandom(32)) is None


def test_a_dropped_transaction_is_sent_again(w3, chain_node, new_accounts):
    """The node forgets a pending transaction; the sender re-broadcasts the same signed bytes."""
    import threading
    import time as _time

    from chain_client.contracts import deploy_all
    from chain_client.devnode import AnvilNode

    if not isinstance(chain_node, AnvilNode):
        pytest.skip("dropping a pending transaction needs anvil's dev RPC (anvil_dropTransaction)")
    [acct] = new_accounts()
    sender = Sender(w3, acct, timeout=1.5)
    deployed = deploy_all(sender)
    registry = contract(w3, "IssuerRegistry", deployed.registry)
    w3.provider.make_request("evm_setAutomine", [False])
    result = {}
    t = threading.Thread(target=lambda: result.update(sent=sender.transact(
        registry.functions.registerIssuer(acct.address, "dropped", [T1]))))
    try:
        t.start()
        deadline = _time.time() + 10
        pending = []
        while not pending and _time.time() < deadline:
            pending = w3.provider.make_request("eth_getBlockByNumber", ["pending", False])["result"]["transactions"]
            _time.sleep(0.05)
        assert pending, "the transaction never reached the pool"
        w3.provider.make_request("anvil_dropTransaction", [pending[0]])
        _time.sleep(2.0)                    # the sender times out, finds it unknown, sends it again
        w3.provider.make_request("evm_mine", [])
        t.join(timeout=15)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    assert result["sent"].status == 1
    assert registry.functions.isActive(acct.address).call()
