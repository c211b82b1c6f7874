"""Log index: which canonical blocks hold logs of an address or a topic.

Keys ``b"lx" + address-or-topic + number(8)`` -> block hash. A query walks only the keys of the
addresses/topics it names within its block range, then reads those blocks' receipts; a key whose
hash is no longer canonical at its number (after a reorg) is skipped. Queries that name neither
an address nor a topic walk the keys of every block with logs (subject ``*``), still bounded
by ``max_range``.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Sequence

from eth.abc import BlockHeaderAPI, ReceiptAPI

PREFIX = b"lx"
DONE = b"lx-indexed-head"
ANY = b"*"  # a subject every block with logs has: unfiltered queries walk these keys only


def _key(subject: bytes, number: int) -> bytes:
    return PREFIX + bytes([len(subject)]) + subject + number.to_bytes(8, "big")


def index_block(raw_db, header: BlockHeaderAPI, receipts: Sequence[ReceiptAPI]) -> None:
    subjects: set[bytes] = set()
    for r in receipts:
        for entry in r.logs:
            subjects.add(entry.address)
            subjects.update(t.to_bytes(32, "big") for t in entry.topics)
    if subjects:
        subjects.add(ANY)
    with raw_db.write_batch(transaction=True) as wb:
        for s in subjects:
            wb.put(_key(s, header.block_number), header.hash)
        wb.put(DONE, header.block_number.to_bytes(8, "big"))


def indexed_head(raw_db) -> int:
    v = raw_db.get(DONE)
    return -1 if v is None else int.from_bytes(v, "big")


def candidate_blocks(raw_db, subjects: Iterable[bytes], start: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """(number, hash) of blocks in [start, stop] whose logs mention one of ``subjects``, ascending."""
    found: dict[int, bytes] = {}
    for s in subjects:
        for key, value in raw_db.iterator(start=_key(s, start), stop=_key(s, stop + 1)):
            found[int.from_bytes(key[-8:], "big")] = value
    yield from sorted(found.items())


def matches(address: bytes, topics: Sequence[int], want_addresses: set[bytes] | None,
            want_topics: Sequence[set[bytes] | None]) -> bool:
    if want_addresses is not None and address not in want_addresses:
        return False
    if len(want_topics) > len(topics):
        return False
    for wanted, topic in zip(want_topics, topics):
        if wanted is not None and topic.to_bytes(32, "big") not in wanted:
            return False
    return True


def query(raw_db, canonical_hash: Callable[[int], bytes | None], load: Callable[[bytes], tuple],
          start: int, stop: int, addresses: set[bytes] | None, topics: Sequence[set[bytes] | None],
          max_range: int = 10_000) -> list[tuple]:
    """Logs matching the filter as ``load`` returns them; ``load(block_hash)`` gives
    (header, transactions, receipts)."""
    if addresses:
        numbers = candidate_blocks(raw_db, addresses, start, stop)
    else:
        first_topic = next((t for t in topics if t), None)
        if first_topic:
            numbers = candidate_blocks(raw_db, first_topic, start, stop)
        else:
            if stop - start + 1 > max_range:
                raise ValueError(f"query spans {stop - start + 1} blocks without an address or topic; "
                                 f"the limit is {max_range}")
            numbers = candidate_blocks(raw_db, [ANY], start, stop)
    out = []
    for number, block_hash in numbers:
        if block_hash is None or canonical_hash(number) != block_hash:
            continue
        header, txs, receipts = load(block_hash)
        log_index = 0
        for tx_index, (tx, receipt) in enumerate(zip(txs, receipts)):
            for entry in receipt.logs:
                if matches(entry.address, entry.topics, addresses, topics):
                    out.append((header, tx_index, tx, log_index, entry))
                log_index += 1
    return out
