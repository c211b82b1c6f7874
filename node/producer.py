"""Sealing: one block per period while transactions wait (or always, with empty blocks on).

The in-turn validator seals as soon as the period has passed; an out-of-turn one waits a random
"wiggle" first (as geth's Clique does) so the in-turn block usually wins and forks stay rare.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from .service import Node

log = logging.getLogger("certledger.node.producer")
WIGGLE = 0.5  # seconds per signer-half, as in geth


class Producer:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="producer", daemon=True)

    def start(self) -> "Producer":
        if self.node.key is not None:
            self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.node.tx_arrived.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)

    def _run(self) -> None:
        node = self.node
        while not self.stopping.is_set():
            if not len(node.pool) and not node.config.empty_blocks:
                node.tx_arrived.wait(timeout=0.5)
                node.tx_arrived.clear()
                continue
            with node.lock:
                head = node.head()
                turn = node.chain.turn(node.me)
            due = head.timestamp + node.genesis.period
            now = time.time()
            if not turn.may_seal:
                self._sleep_until_head_moves(head.hash, 0.2)
                continue
            delay = max(due - now, 0)
            if not turn.in_turn:
                delay += random.uniform(0.1, (len(turn.signers) // 2 + 1) * WIGGLE)
            if delay and self._sleep_until_head_moves(head.hash, delay):
                continue  # a block came in meanwhile: look again
            try:
                with node.lock:
                    if node.head().hash != head.hash:
                        continue
                    sealed = node.seal_next(int(max(time.time(), due)))
            except Exception:
                log.exception("sealing failed")
                self.stopping.wait(1)
                continue
            if sealed is None:  # only transactions waiting for an earlier nonce: wait for news, do not spin
                node.tx_arrived.clear()
                node.tx_arrived.wait(timeout=0.5)

    def _sleep_until_head_moves(self, head_hash: bytes, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if the head changed meanwhile."""
        deadline = time.time() + seconds
        with self.node.head_changed:
            while time.time() < deadline and not self.stopping.is_set():
                if self.node.head().hash != head_hash:
                    return True
                self.node.head_changed.wait(timeout=max(deadline - time.time(), 0.01))
        return self.node.head().hash != head_hash
