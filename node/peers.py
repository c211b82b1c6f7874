"""Static peers over HTTP: new blocks and transactions are pushed to every peer, and every
second each peer's head is compared with ours; a heavier chain is fetched from the common
ancestor on and imported with full validation (a late or restarted node catches up this way)."""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.request
from typing import Any

import rlp
from eth_utils import ValidationError, encode_hex

from .service import Node

log = logging.getLogger("certledger.node.peers")


class PeerError(Exception):
    pass


def rpc(url: str, method: str, params: list, timeout: float = 5) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            answer = json.loads(resp.read())
    except (OSError, ValueError) as exc:
        raise PeerError(f"{url}: {exc}") from None
    if "error" in answer:
        raise PeerError(f"{url}: {answer['error'].get('message')}")
    return answer.get("result")


class Peers:
    def __init__(self, node: Node, urls: list[str], interval: float = 1.0) -> None:
        self.node, self.urls, self.interval = node, list(urls), interval
        self.stopping = threading.Event()
        self._out: "queue.Queue[tuple[str, list]]" = queue.Queue(maxsize=10_000)
        self._down: set[str] = set()
        self.threads = [threading.Thread(target=self._sync_loop, name="sync", daemon=True),
                        threading.Thread(target=self._push_loop, name="push", daemon=True)]
        node.on_new_block.append(self._announce_block)
        node.on_new_transactions.append(self._announce_transactions)

    def start(self) -> "Peers":
        if self.urls:
            for t in self.threads:
                t.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._out.put(("", []))
        for t in self.threads:
            if t.is_alive():
                t.join(timeout=10)

    # --- pushing ----------------------------------------------------------------------------
    def _announce_block(self, block) -> None:
        self._enqueue("certledger_importBlock", ["0x" + rlp.encode(block).hex(), hex(block.number)])

    def _announce_transactions(self, raws: list[bytes]) -> None:
        self._enqueue("certledger_relayTransactions", [["0x" + r.hex() for r in raws]])

    def _enqueue(self, method: str, params: list) -> None:
        if not self.urls:
            return
        try:
            self._out.put_nowait((method, params))
        except queue.Full:
            pass  # peers that fall behind catch up by syncing

    def _push_loop(self) -> None:
        while not self.stopping.is_set():
            method, params = self._out.get()
            if not method:
                return
            for url in self.urls:
                if url in self._down:
                    continue
                try:
                    rpc(url, method, params, timeout=3)
                except PeerError as exc:
                    log.debug("push to %s failed: %s", url, exc)

    # --- syncing ----------------------------------------------------------------------------
    def _sync_loop(self) -> None:
        while not self.stopping.is_set():
            self.sync_once()
            self.stopping.wait(self.interval)

    def sync_once(self) -> int:
        """Pull from every peer whose chain is heavier; returns how many blocks were imported."""
        imported = 0
        for url in self.urls:
            try:
                theirs = rpc(url, "certledger_head", [], timeout=3)
            except PeerError:
                if url not in self._down:
                    log.warning("peer %s is unreachable", url)
                    self._down.add(url)
                continue
            if url in self._down:
                log.info("peer %s is back", url)
                self._down.discard(url)
                self._send_pool(url)
            with self.node.lock:
                head = self.node.head()
                ours = self.node.chain.score(head.hash)
            their_score, their_hash = int(theirs["totalDifficulty"], 16), bytes.fromhex(theirs["hash"][2:])
            # Equally heavy branches (two out-of-turn blocks at one height): the lower head hash wins
            # on every node, or nodes that saw them in different orders stay apart until another
            # block comes, which with empty blocks off may be never.
            if their_score < ours or (their_score == ours and their_hash >= head.hash):
                continue
            try:
                imported += self._pull(url, int(theirs["number"], 16))
                if their_score == ours:
                    self.node.prefer(their_hash)
            except (PeerError, ValidationError) as exc:
                log.warning("sync from %s stopped: %s", url, exc)
        return imported

    def _send_pool(self, url: str) -> None:
        """A peer that was unreachable missed our relays: hand it what waits in our pool, or a
        transaction only we hold stalls the chain while we may not seal (recently signed)."""
        from .service import raw_transaction

        content = self.node.pool.content()
        raws = ["0x" + raw_transaction(tx).hex() for part in ("pending", "queued")
                for by_nonce in content[part].values() for _, tx in sorted(by_nonce.items())]
        for i in range(0, len(raws), 1024):
            try:
                rpc(url, "certledger_relayTransactions", [raws[i:i + 1024]], timeout=10)
            except PeerError as exc:
                log.debug("sending our pool to %s failed: %s", url, exc)
                return

    def _common_ancestor(self, url: str, their_number: int) -> int:
        n = min(self.node.head().block_number, their_number)
        while n > 0:
            block = rpc(url, "eth_getBlockByNumber", [hex(n), False])
            with self.node.lock:
                ours = self.node.canonical_hash(n)
            if block and ours is not None and block["hash"] == "0x" + ours.hex():
                return n
            n -= 1
        return 0

    def _pull(self, url: str, their_number: int) -> int:
        start = self._common_ancestor(url, their_number) + 1
        imported = 0
        while start <= their_number and not self.stopping.is_set():
            encoded = rpc(url, "certledger_getBlocks", [hex(start), hex(64)], timeout=30)
            if not encoded:
                break
            for i, raw in enumerate(encoded):
                block = self.node.chain.decode_block(bytes.fromhex(raw[2:]), start + i)
                if self.node.import_block(block):
                    imported += 1
            start += len(encoded)
        if imported:
            log.info("synced %d block(s) from %s, head #%d %s", imported, url, self.node.head().block_number,
                     encode_hex(self.node.head().hash)[:18])
        return imported
