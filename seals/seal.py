"""Making an electronic seal (SESeal, version 4) and checking one.

A seal binds a picture and properties to the certificates of those allowed to use it, and is
signed by the seal maker. Its DER is what a document signature (SES_Signature) embeds.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from certledger.crypto import oids
from certledger.crypto import x509 as X
from certledger.crypto.signers import SM2_SM3, Signer, verify
from .asn1 import CERT_LIST_TYPES, CertInfoList, SESeal, SESSealInfo, to_be_signed

VENDOR_ID = "CertLedger"
UNIT_SEAL, PERSONAL_SEAL = 1, 2
PICTURE_TYPES = ("PNG", "GIF", "JPG", "OFD")


class SealError(ValueError):
    pass


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(microsecond=0)


def make_seal(*, name: str, picture: bytes, picture_type: str, width_mm: int, height_mm: int,
              signer_certs: Sequence[bytes], maker: Signer, maker_cert: bytes, valid_start: datetime,
              valid_end: datetime, seal_type: int = UNIT_SEAL, es_id: str | None = None) -> bytes:
    """DER of a new SESeal signed by the seal maker (SM2 with SM3)."""
    if maker.algorithm != SM2_SM3:
        raise SealError("GB/T 38540 seals are made with SM2 keys")
    if picture_type not in PICTURE_TYPES:
        raise SealError(f"picture type is one of {', '.join(PICTURE_TYPES)}")
    if not signer_certs:
        raise SealError("a seal needs the certificate of at least one signer")
    if valid_end <= valid_start:
        raise SealError("a seal must end after it begins")
    info = SESSealInfo({
        "header": {"ID": "ES", "version": 4, "Vid": VENDOR_ID},
        "esID": es_id or secrets.token_hex(16),
        "property": {
            "type": seal_type, "name": name, "certListType": 1,
            "certList": CertInfoList(list(signer_certs)),
            "createDate": _utc(datetime.now(timezone.utc)),
            "validStart": _utc(valid_start), "validEnd": _utc(valid_end),
        },
        "picture": {"type": picture_type, "data": picture, "width": width_mm, "height": height_mm},
    })
    signed = maker.sign(to_be_signed(info, maker_cert, oids.SM2_WITH_SM3))
    return SESeal({"eSealInfo": info, "cert": maker_cert, "signAlgID": oids.SM2_WITH_SM3,
                   "signedValue": signed}).dump()


def load_seal(der: bytes) -> SESeal:
    try:
        seal = SESeal.load(der, strict=True)
        prop = seal["eSealInfo"]["property"]
        kind = CERT_LIST_TYPES.get(prop["certListType"].native)
        if kind is None:
            raise ValueError(f"unknown certListType {prop['certListType'].native}")
        prop["certList"].parse(kind)
        seal.native  # parse it all now
        return seal
    except (ValueError, TypeError) as exc:
        raise SealError(f"not a GB/T 38540 seal: {exc}") from None


@dataclass(frozen=True)
class SealInfo:
    es_id: str
    name: str
    seal_type: int
    picture_type: str
    picture: bytes
    width_mm: int
    height_mm: int
    valid_start: datetime
    valid_end: datetime
    signer_certs: tuple[bytes, ...]
    maker_cert: bytes


def describe(seal: SESeal) -> SealInfo:
    info = seal["eSealInfo"]
    prop, pic = info["property"], info["picture"]
    certs = prop["certList"].parsed
    return SealInfo(
        es_id=info["esID"].native, name=prop["name"].native, seal_type=prop["type"].native,
        picture_type=pic["type"].native, picture=pic["data"].native, width_mm=pic["width"].native,
        height_mm=pic["height"].native, valid_start=prop["validStart"].native, valid_end=prop["validEnd"].native,
        signer_certs=tuple(c.native for c in certs) if prop["certListType"].native == 1 else (),
        maker_cert=seal["cert"].native,
    )


def check_seal(seal: SESeal, roots: Sequence, at: datetime | None = None, crls: Sequence = ()) -> list[X.Check]:
    """The seal's own checks: format, maker's signature, maker's certificate, validity period."""
    at = at or datetime.now(timezone.utc)
    info = seal["eSealInfo"]
    header = info["header"]
    checks = [X.Check("seal format", header["ID"].native == "ES" and header["version"].native == 4,
                      f"{header['ID'].native} v{header['version'].native}")]
    maker_der = seal["cert"].native
    try:
        maker = X.load(maker_der)
    except X.CertificateError as exc:
        return checks + [X.Check("seal maker certificate", False, str(exc))]
    alg = seal["signAlgID"].dotted
    ok = alg == oids.SM2_WITH_SM3 and verify(SM2_SM3, X.public_key_der(maker),
                                              to_be_signed(info, maker_der, alg), seal["signedValue"].native)
    checks.append(X.Check("seal signature", ok, f"made by {maker.subject.human_friendly}"))
    chain = X.check_chain(maker, [], roots, at, crls)
    checks.append(X.Check("seal maker certificate", all(c.ok for c in chain),
                          "; ".join(f"{c.name}: {c.detail}" for c in chain if not c.ok) or "trusted"))
    d = describe(seal)
    checks.append(X.Check("seal validity", d.valid_start <= at <= d.valid_end,
                          f"{d.valid_start:%Y-%m-%d} .. {d.valid_end:%Y-%m-%d}"))
    return checks
