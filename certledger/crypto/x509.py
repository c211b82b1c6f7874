"""X.509 certificates and CRLs signed with SM2 (GM/T 0015), ECDSA or RSA, and their checks.

Certificates are built and parsed with asn1crypto (which knows the SM2 OIDs once ``oids`` is
imported) and signed through a ``Signer``, so a CA key may live in memory or on a token. The
checks report each step separately, because a verifier needs to know which one failed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

from asn1crypto import core, crl as asn1_crl, keys, x509

from . import oids
from .signers import ECDSA_SHA256, RSA_SHA256, SM2_SM3, Signer, verify

SIGNATURE_ALGORITHMS = {SM2_SM3: "sm2sign_with_sm3", ECDSA_SHA256: "sha256_ecdsa", RSA_SHA256: "sha256_rsa"}
ALGORITHM_OF = {oids.SM2_WITH_SM3: SM2_SM3, "1.2.840.10045.4.3.2": ECDSA_SHA256, "1.2.840.113549.1.1.11": RSA_SHA256}


class CertificateError(ValueError):
    pass


def name(common_name: str, organization: str = "", unit: str = "", country: str = "CN", province: str = "",
         locality: str = "") -> x509.Name:
    attrs = {"country_name": country}
    for key, value in (("state_or_province_name", province), ("locality_name", locality),
                       ("organization_name", organization), ("organizational_unit_name", unit)):
        if value:
            attrs[key] = value
    attrs["common_name"] = common_name
    return x509.Name.build(attrs, use_printable=False)


def _time(dt: datetime) -> x509.Time:
    dt = dt.astimezone(timezone.utc).replace(microsecond=0)
    return x509.Time({"utc_time": dt} if dt.year < 2050 else {"general_time": dt})


def _sig_algo(algorithm: str) -> dict:
    algo = {"algorithm": SIGNATURE_ALGORITHMS[algorithm]}
    if algorithm == RSA_SHA256:
        algo["parameters"] = core.Null()
    return algo


def key_id(public_key_der: bytes) -> bytes:
    """RFC 5280 method 1: SHA-1 of the subject public key bits."""
    return hashlib.sha1(keys.PublicKeyInfo.load(public_key_der)["public_key"].contents[1:]).digest()


@dataclass(frozen=True)
class Profile:
    """What a certificate is for: CA, department signing, person, seal, or TLS/PDF signing."""

    ca: bool = False
    path_len: int | None = None
    key_usage: frozenset[str] = frozenset({"digital_signature", "non_repudiation"})
    extended_key_usage: tuple[str, ...] = ()


CA_PROFILE = Profile(ca=True, path_len=0, key_usage=frozenset({"key_cert_sign", "crl_sign", "digital_signature"}))
SIGNING_PROFILE = Profile()
PDF_SIGNING_PROFILE = Profile(extended_key_usage=("1.3.6.1.5.5.7.3.36",))  # id-kp-documentSigning


def build_certificate(subject: x509.Name, public_key_der: bytes, issuer: x509.Name, issuer_signer: Signer,
                      not_before: datetime, not_after: datetime, profile: Profile = SIGNING_PROFILE,
                      serial: int | None = None, issuer_key_id: bytes | None = None) -> bytes:
    if not_after <= not_before:
        raise CertificateError("a certificate must end after it begins")
    exts = [
        {"extn_id": "basic_constraints", "critical": True,
         "extn_value": {"ca": profile.ca, "path_len_constraint": profile.path_len if profile.ca else None}},
        {"extn_id": "key_usage", "critical": True, "extn_value": set(profile.key_usage)},
        {"extn_id": "key_identifier", "critical": False, "extn_value": key_id(public_key_der)},
    ]
    if issuer_key_id:
        exts.append({"extn_id": "authority_key_identifier", "critical": False,
                     "extn_value": {"key_identifier": issuer_key_id}})
    if profile.extended_key_usage:
        exts.append({"extn_id": "extended_key_usage", "critical": False,
                     "extn_value": list(profile.extended_key_usage)})
    tbs = x509.TbsCertificate({
        "version": "v3",
        "serial_number": serial or secrets.randbits(127) | 1 << 126,
        "signature": _sig_algo(issuer_signer.algorithm),
        "issuer": issuer,
        "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
        "subject": subject,
        "subject_public_key_info": keys.PublicKeyInfo.load(public_key_der),
        "extensions": exts,
    })
    signature = issuer_signer.sign(tbs.dump())
    return x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": _sig_algo(issuer_signer.algorithm),
                             "signature_value": signature}).dump()


def load(der_or_pem: bytes) -> x509.Certificate:
    from asn1crypto import pem

    data = der_or_pem
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    try:
        cert = x509.Certificate.load(data, strict=True)
        cert.native  # parse everything now, so that a broken certificate fails here
        return cert
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"not an X.509 certificate: {exc}") from None


def algorithm_of(cert: x509.Certificate) -> str:
    oid = cert["signature_algorithm"]["algorithm"].dotted
    if oid not in ALGORITHM_OF:
        raise CertificateError(f"unsupported signature algorithm {oid}")
    return ALGORITHM_OF[oid]


def public_key_der(cert: x509.Certificate) -> bytes:
    return cert["tbs_certificate"]["subject_public_key_info"].dump()


def signed_by(cert: x509.Certificate, issuer_public_key_der: bytes) -> bool:
    return _signed_by(cert.dump(), issuer_public_key_der)


@lru_cache(maxsize=4096)
def _signed_by(cert_der: bytes, issuer_public_key_der: bytes) -> bool:
    """Cached on the exact bytes: a department's certificate is checked once, not per document."""
    cert = x509.Certificate.load(cert_der)
    try:
        algorithm = algorithm_of(cert)
    except CertificateError:
        return False
    return verify(algorithm, issuer_public_key_der, cert["tbs_certificate"].dump(), cert["signature_value"].native)


def to_pem(der: bytes, label: str = "CERTIFICATE") -> bytes:
    from asn1crypto import pem

    return pem.armor(label, der)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def check_chain(cert: x509.Certificate, issuers: Sequence[x509.Certificate], roots: Sequence[x509.Certificate],
                at: datetime | None = None, crls: Iterable[asn1_crl.CertificateList] = ()) -> list[Check]:
    """Signature, validity, CA flags and revocation of every link, up to one of ``roots``."""
    at = at or datetime.now(timezone.utc)
    checks: list[Check] = []
    crls = list(crls)
    pool = {c.subject.dump(): c for c in list(issuers) + list(roots)}
    root_ders = {r.dump() for r in roots}
    current = cert
    for depth in range(8):
        label = "certificate" if depth == 0 else f"issuer {depth}"
        nb, na = current.not_valid_before, current.not_valid_after
        checks.append(Check(f"{label} validity", nb <= at <= na, f"{nb:%Y-%m-%d} .. {na:%Y-%m-%d}"))
        if current.dump() in root_ders:
            checks.append(Check("trusted root", True, current.subject.human_friendly))
            return checks
        issuer = pool.get(current.issuer.dump())
        if issuer is None:
            checks.append(Check("trusted root", False, f"no trusted issuer for {current.issuer.human_friendly}"))
            return checks
        checks.append(Check(f"{label} signature", signed_by(current, public_key_der(issuer)),
                            f"signed by {issuer.subject.human_friendly}"))
        checks.append(Check(f"{label} issuer is a CA", bool(issuer.ca), issuer.subject.human_friendly))
        revoked = revocation_of(current, issuer, crls)
        checks.append(Check(f"{label} not revoked", revoked is None, revoked or "not on the CRL"))
        if current.self_signed == "maybe" and issuer.dump() == current.dump():
            break
        current = issuer
    checks.append(Check("trusted root", False, "chain too long or loops"))
    return checks


def revocation_of(cert: x509.Certificate, issuer: x509.Certificate, crls: Sequence[asn1_crl.CertificateList]) -> str | None:
    """A reason if a CRL of ``issuer``, correctly signed by it, lists ``cert``; None otherwise."""
    for lst in crls:
        tbs = lst["tbs_cert_list"]
        if tbs["issuer"].dump() != issuer.subject.dump():
            continue
        oid = lst["signature_algorithm"]["algorithm"].dotted
        if oid not in ALGORITHM_OF or not verify(ALGORITHM_OF[oid], public_key_der(issuer), tbs.dump(),
                                                   lst["signature"].native):
            return "a CRL of its issuer has a bad signature"
        for entry in tbs["revoked_certificates"]:
            if entry["user_certificate"].native == cert.serial_number:
                reason = next((e["extn_value"].native for e in entry["crl_entry_extensions"]
                               if e["extn_id"].native == "crl_reason"), "unspecified")
                return f"revoked on {entry['revocation_date'].native:%Y-%m-%d} ({reason})"
    return None


def build_crl(issuer_cert: x509.Certificate, issuer_signer: Signer, revoked: Iterable[tuple[int, datetime, str]],
              number: int, this_update: datetime, next_update: datetime) -> bytes:
    entries = [{"user_certificate": serial, "revocation_date": _time(when),
                "crl_entry_extensions": [{"extn_id": "crl_reason", "critical": False, "extn_value": reason}]}
               for serial, when, reason in revoked]
    tbs = asn1_crl.TbsCertList({
        "version": "v2",
        "signature": _sig_algo(issuer_signer.algorithm),
        "issuer": issuer_cert.subject,
        "this_update": _time(this_update),
        "next_update": _time(next_update),
        "revoked_certificates": entries,
        "crl_extensions": [
            {"extn_id": "crl_number", "critical": False, "extn_value": number},
            {"extn_id": "authority_key_identifier", "critical": False,
             "extn_value": {"key_identifier": key_id(public_key_der(issuer_cert))}},
        ],
    })
    return asn1_crl.CertificateList({"tbs_cert_list": tbs, "signature_algorithm": _sig_algo(issuer_signer.algorithm),
                                     "signature": issuer_signer.sign(tbs.dump())}).dump()


def days(n: int) -> timedelta:
    return timedelta(days=n)
