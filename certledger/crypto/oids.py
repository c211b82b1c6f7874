"""The national-algorithm object identifiers, registered with asn1crypto once on import.

asn1crypto knows the curves and signature algorithms of the RFCs but not GM/T 0006's, so the
SM2 curve, SM3 and SM2-with-SM3 are added to its maps here; everything that parses or builds
SM2 keys and certificates imports this module first.
"""

from __future__ import annotations

from asn1crypto import algos, keys

SM2_CURVE = "1.2.156.10197.1.301"
SM3 = "1.2.156.10197.1.401"
SM2_WITH_SM3 = "1.2.156.10197.1.501"
SM2_ENCRYPTION = "1.2.156.10197.1.301.3"


def _add(cls, dotted: str, name: str) -> None:
    if dotted not in cls._map:
        cls._map[dotted] = name
        cls._reverse_map = None  # rebuilt lazily by asn1crypto from _map


if SM2_CURVE not in keys.NamedCurve._map:
    keys.NamedCurve.register("sm2p256v1", SM2_CURVE, 32)
_add(algos.SignedDigestAlgorithmId, SM2_WITH_SM3, "sm2sign_with_sm3")
_add(algos.DigestAlgorithmId, SM3, "sm3")
