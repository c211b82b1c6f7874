"""The steps of issuance (签发流程), their order, labels and skip rule, as the seed states them.

Seed (user manual, 审核 / 签发流程): issuing a certificate runs 证照加密, 生成版式文件, 电子签名,
电子印章, then the certificate is written to the ledger (上链, or 本地存储 when
``becp.ecms.blockChain.enabled=false``) and becomes effective (生效). "若证照对应的证照类型未进行
照面设计，则跳过生成版式文件、签名验证、电子签章流程": a type without a surface design skips the
layout, signature and seal steps. "若签发流程中某环节失败，则停止签发，且该环节图标转为红色": a
failed step stops the certificate at that step, shown red, until it is retried.

This module is pure rules (no database, no I/O) so the runner, the CLI and the web progress view
agree on them.
"""

from __future__ import annotations

import enum
from typing import Iterable, Mapping

from ..models.pipeline import StepStatus


class Step(str, enum.Enum):
    ENCRYPT = "encrypt"      # data authenticated (SM4-GCM at rest), canonicalised, digests computed
    LAYOUT = "layout"        # the OFD face written from the type's surface design
    SIGN = "sign"            # SM2 signature of the department's certificate over the document
    SEAL = "seal"            # the department's GB/T 38540 seal stamped, sealed file stored
    ANCHOR = "anchor"        # the digest anchored in a Merkle batch (chain or local store)
    EFFECTIVE = "effective"  # the certificate's status becomes effective


ORDER: tuple[Step, ...] = (Step.ENCRYPT, Step.LAYOUT, Step.SIGN, Step.SEAL, Step.ANCHOR, Step.EFFECTIVE)
DOCUMENT_STEPS: frozenset[Step] = frozenset({Step.LAYOUT, Step.SIGN, Step.SEAL})
FINISHED: frozenset[StepStatus] = frozenset({StepStatus.DONE, StepStatus.SKIPPED})

LABELS_ZH: Mapping[Step, str] = {
    Step.ENCRYPT: "证照加密", Step.LAYOUT: "生成版式文件", Step.SIGN: "电子签名", Step.SEAL: "电子印章",
    Step.ANCHOR: "上链", Step.EFFECTIVE: "生效",
}
LABELS_EN: Mapping[Step, str] = {
    Step.ENCRYPT: "Encryption", Step.LAYOUT: "Layout file", Step.SIGN: "Digital signature",
    Step.SEAL: "Electronic seal", Step.ANCHOR: "Anchoring", Step.EFFECTIVE: "Effective",
}
LOCAL_ANCHOR_ZH = "本地存储"   # the seed's wording when the blockchain is not enabled
LOCAL_ANCHOR_EN = "Local storage"


def label(step: Step | str, blockchain_enabled: bool = True, language: str = "zh_CN") -> str:
    """The name shown for ``step``; anchoring is 上链 on a chain and 本地存储 on the local store."""
    step = Step(step)
    zh = language.startswith("zh")
    if step is Step.ANCHOR and not blockchain_enabled:
        return LOCAL_ANCHOR_ZH if zh else LOCAL_ANCHOR_EN
    return (LABELS_ZH if zh else LABELS_EN)[step]


def position(step: Step | str) -> int:
    return ORDER.index(Step(step))


def applies(step: Step, has_design: bool) -> bool:
    """False for the document steps of a type without surface design (they are skipped)."""
    return has_design or step not in DOCUMENT_STEPS


def initial_statuses(has_design: bool) -> dict[Step, StepStatus]:
    return {s: StepStatus.PENDING if applies(s, has_design) else StepStatus.SKIPPED for s in ORDER}


def reconcile(statuses: Mapping[Step, StepStatus], has_design: bool) -> dict[Step, StepStatus]:
    """Statuses to write when the type's design changed before the certificate finished.

    A document step not yet done follows the present design: skipped without one, pending with
    one. Done steps stay done: what was produced is kept.
    """
    changes: dict[Step, StepStatus] = {}
    for step in DOCUMENT_STEPS:
        current = statuses.get(step)
        if current is None or current is StepStatus.DONE:
            continue
        if not has_design and current is not StepStatus.SKIPPED:
            changes[step] = StepStatus.SKIPPED
        elif has_design and current is StepStatus.SKIPPED:
            changes[step] = StepStatus.PENDING
    return changes


def remaining(statuses: Mapping[Step, StepStatus]) -> list[Step]:
    """The steps still to run, in order (neither done nor skipped)."""
    return [s for s in ORDER if statuses.get(s) not in FINISHED]


def failed_step(statuses: Mapping[Step, StepStatus]) -> Step | None:
    """Where a certificate stopped, if it did (the first failed step)."""
    return next((s for s in ORDER if statuses.get(s) is StepStatus.FAILED), None)


def ordered(rows: Iterable, key=lambda r: r.step) -> list:
    """Rows of any shape sorted in the order of the flow."""
    return sorted(rows, key=lambda r: position(key(r)))
