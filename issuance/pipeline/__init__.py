"""The issuance pipeline (签发流程): encryption, layout file, signature, seal, anchoring, effective.

``issue`` runs certificates in status issuing through every step, recording each step's status,
times and error (``IssuanceStep``); ``resume`` carries on after a crash. See ``runner`` for how
crash safety works, ``steps`` for the order and skip rule, ``documents`` for the files.
"""

from .runner import IssueReport, PipelineEnv, issue, issue_with, issuing_ids, progress, resume
from .steps import ORDER, Step, label

__all__ = ["IssueReport", "PipelineEnv", "issue", "issue_with", "issuing_ids", "progress", "resume",
           "ORDER", "Step", "label"]
