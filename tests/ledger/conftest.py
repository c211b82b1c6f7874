"""A real LevelDB store in tmp_path, with two issuers and an admin."""

import os

import pytest

from ledger import AnchorItem
from ledger.local import LocalLedger


@pytest.fixture
def store(tmp_path):
    with LocalLedger(tmp_path / "ledger", admins=["ADMIN"]) as s:
        s.register_issuer("D1", "哈尔滨市市场监督管理局", ["T1", "T3"])
        s.register_issuer("D2", "大庆市市场监督管理局", ["T2"])
        yield s


def anchor(store, n=4, issuer="D1", type_code="T1", prefix="c"):
    """Anchor ``n`` certificates ``{prefix}0..`` with random digests; returns (items, receipt)."""
    items = [AnchorItem(f"{prefix}{i}", os.urandom(32)) for i in range(n)]
    return items, store.anchor_batch(issuer, type_code, items)
