"""GB/T 38540-2020 (version 4) structures, declared with asn1crypto.

    SESeal        ::= SEQUENCE { eSealInfo SES_SealInfo, cert OCTET STRING,
                                 signAlgID OBJECT IDENTIFIER, signedValue BIT STRING }
    SES_SealInfo  ::= SEQUENCE { header SES_Header, esID IA5String, property SES_ESPropertyInfo,
                                 picture SES_ESPictrueInfo, extDatas ExtensionDatas OPTIONAL }
    SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING, signatureAlgID OBJECT IDENTIFIER,
                                 signature BIT STRING, timeStamp [0] BIT STRING OPTIONAL }
    TBS_Sign      ::= SEQUENCE { version INTEGER, eseal SESeal, timeInfo GeneralizedTime,
                                 dataHash BIT STRING, propertyInfo IA5String,
                                 extDatas [0] ExtensionDatas OPTIONAL }
"""

from __future__ import annotations

from asn1crypto import core

from certledger.crypto import oids  # noqa: F401  (SM2 OIDs known to asn1crypto)


class ExtData(core.Sequence):
    _fields = [
        ("extnID", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extnValue", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):
    _child_spec = ExtData


class SESHeader(core.Sequence):
    _fields = [("ID", core.IA5String), ("version", core.Integer), ("Vid", core.IA5String)]


class CertInfoList(core.SequenceOf):
    _child_spec = core.OctetString


class CertDigestObj(core.Sequence):
    _fields = [("type", core.PrintableString), ("value", core.OctetString)]


class CertDigestList(core.SequenceOf):
    _child_spec = CertDigestObj


# SES_CertList ::= CHOICE { certs CertInfoList, certDigestList CertDigestList }: both are
# SEQUENCE OF, so the tag cannot tell them apart; certListType (1 or 2) says which it is.
CERT_LIST_TYPES = {1: CertInfoList, 2: CertDigestList}


class SESPropertyInfo(core.Sequence):
    _fields = [
        ("type", core.Integer),            # 1 unit seal, 2 personal seal
        ("name", core.UTF8String),
        ("certListType", core.Integer),    # 1 certificates, 2 certificate digests
        ("certList", core.Any),            # CertInfoList or CertDigestList, by certListType
        ("createDate", core.GeneralizedTime),
        ("validStart", core.GeneralizedTime),
        ("validEnd", core.GeneralizedTime),
    ]


class SESPictureInfo(core.Sequence):
    _fields = [("type", core.IA5String), ("data", core.OctetString), ("width", core.Integer), ("height", core.Integer)]


class SESSealInfo(core.Sequence):
    _fields = [
        ("header", SESHeader),
        ("esID", core.IA5String),
        ("property", SESPropertyInfo),
        ("picture", SESPictureInfo),
        ("extDatas", ExtensionDatas, {"optional": True}),
    ]


class SESeal(core.Sequence):
    _fields = [
        ("eSealInfo", SESSealInfo),
        ("cert", core.OctetString),
        ("signAlgID", core.ObjectIdentifier),
        ("signedValue", core.OctetBitString),
    ]


class TBSSign(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("eseal", SESeal),
        ("timeInfo", core.GeneralizedTime),
        ("dataHash", core.OctetBitString),
        ("propertyInfo", core.IA5String),
        ("extDatas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SESSignature(core.Sequence):
    _fields = [
        ("toSign", TBSSign),
        ("cert", core.OctetString),
        ("signatureAlgID", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("timeStamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


def _with_raw(spec: type[core.Sequence], field: str) -> list[tuple]:
    return [(name, core.Any if name == field else kind, *rest) for name, kind, *rest in spec._fields]


class TBSSignWriter(core.Sequence):
    """TBS_Sign for writing only: the seal goes in as the bytes it was made with. Same encoding as
    TBSSign, about 7x faster, as asn1crypto would otherwise re-encode the whole seal (picture,
    certificates) for every document sealed with it."""

    _fields = _with_raw(TBSSign, "eseal")


class SESSignatureWriter(core.Sequence):
    """SES_Signature for writing only, with TBS_Sign already encoded (see TBSSignWriter)."""

    _fields = _with_raw(SESSignature, "toSign")


class _Triple(core.Sequence):
    """What a signature of version 4 covers: the content, the signer's certificate, the algorithm."""

    _fields = [("content", core.Any), ("cert", core.OctetString), ("algorithm", core.ObjectIdentifier)]


def to_be_signed(content: core.Asn1Value | bytes, cert_der: bytes, algorithm_oid: str) -> bytes:
    """The bytes a version-4 signature covers; ``content`` as a structure or already encoded."""
    encoded = content if isinstance(content, bytes) else content.dump()
    return _Triple({"content": core.Any.load(encoded), "cert": cert_der, "algorithm": algorithm_oid}).dump()
