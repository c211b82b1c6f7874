"""Sealing an OFD (GB/T 33190 §18 with GB/T 38540 signatures) and verifying a sealed OFD.

Signing adds, for signature N: ``Doc_0/Signs/Signatures.xml`` (the list), ``Sign_N/Signature.xml``
(SM3 check values of every file of the package, the signing time and a StampAnnot placing the
seal on the page) and ``Sign_N/SignedValue.dat``: an SES_Signature whose dataHash is the SM3 of
Signature.xml. Verification reports each check on its own and notices any changed, removed or
added file.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Mapping, Sequence
from xml.etree import ElementTree as ET

from asn1crypto.core import Any

from certledger.crypto import oids
from certledger.crypto import x509 as X
from certledger.crypto.signers import SM2_SM3, Signer, verify
from certledger.crypto.sm import sm3
from ofd.package import NS, Q, Package, UnsafePackage
from ofd.writer import zip_package

from .asn1 import SESeal, SESSignature, SESSignatureWriter, TBSSignWriter, to_be_signed
from .seal import SealError, SealInfo, check_seal, describe, load_seal

ET.register_namespace("ofd", NS)
SIGNATURES = "Doc_0/Signs/Signatures.xml"


@dataclass(frozen=True)
class Placement:
    """Where the seal picture is stamped: page index and a box in millimetres."""

    page: int = 0
    x: float = 200
    y: float = 150
    width: float = 42
    height: float = 42


def _ofd(tag: str) -> str:
    return f"{Q}{tag}"


def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _check_value(data: bytes) -> str:
    return base64.b64encode(sm3(data)).decode()


def _signature_files(pkg_files: Mapping[str, bytes]) -> tuple[ET.Element, int]:
    if SIGNATURES in pkg_files:
        root = Package(dict(pkg_files)).xml(SIGNATURES)
        ids = [int(s.get("ID", "0")) for s in root.iter(_ofd("Signature"))]
        return root, max(ids, default=0)
    root = ET.Element(_ofd("Signatures"))
    ET.SubElement(root, _ofd("MaxSignId")).text = "0"
    return root, 0


@lru_cache(maxsize=64)
def _seal(seal_der: bytes) -> tuple[SESeal, SealInfo]:
    """A seal parsed and described once, not once per document sealed with it or checked.

    Callers only read the parsed structure; any error is raised again on each call (not cached).
    """
    seal = load_seal(seal_der)
    return seal, describe(seal)


def _allowed_signers(seal_der: bytes) -> tuple[bytes, ...]:
    """The certificates a seal allows to sign with it."""
    return _seal(seal_der)[1].signer_certs


def sign_files(files: dict[str, bytes], seal_der: bytes, signer: Signer, signer_cert: bytes,
               placement: Placement = Placement(), at: datetime | None = None) -> dict[str, bytes]:
    """Seal the package given as its files; returns the files of the sealed package."""
    if signer.algorithm != SM2_SM3:
        raise SealError("OFD seals are signed with SM2")
    if signer_cert not in _allowed_signers(seal_der):
        raise SealError("the signer's certificate is not among those the seal allows")
    at = (at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    files = dict(files)
    pkg = Package(files)

    # OFD.xml names the signature list (once)
    ofd_root = pkg.xml("OFD.xml")
    body = ofd_root.find(_ofd("DocBody"))
    if body is None:
        raise UnsafePackage("OFD.xml has no DocBody")
    if body.find(_ofd("Signatures")) is None:
        ET.SubElement(body, _ofd("Signatures")).text = SIGNATURES
        files["OFD.xml"] = _xml(ofd_root)

    sigs_root, last_id = _signature_files(files)
    sign_id = last_id + 1
    folder = f"Doc_0/Signs/Sign_{sign_id - 1}"
    page_paths = pkg.page_paths()
    if not 0 <= placement.page < len(page_paths):
        raise SealError(f"the document has no page {placement.page + 1}")
    page_id = [p.get("ID") for p in pkg.xml(pkg.document_path()).iter(_ofd("Page"))][placement.page]

    sig = ET.Element(_ofd("Signature"))
    info = ET.SubElement(sig, _ofd("SignedInfo"))
    ET.SubElement(info, _ofd("Provider"), {"ProviderName": "CertLedger", "Version": "1.0", "Company": "CertLedger"})
    ET.SubElement(info, _ofd("SignatureMethod")).text = oids.SM2_WITH_SM3
    ET.SubElement(info, _ofd("SignatureDateTime")).text = at.strftime("%Y%m%d%H%M%SZ")
    refs = ET.SubElement(info, _ofd("References"), {"CheckMethod": oids.SM3})
    for name in sorted(files):
        if name == SIGNATURES:
            continue  # changes with every later signature; each Signature.xml protects itself
        ref = ET.SubElement(refs, _ofd("Reference"), {"FileRef": "/" + name})
        ET.SubElement(ref, _ofd("CheckValue")).text = _check_value(files[name])
    ET.SubElement(info, _ofd("StampAnnot"), {
        "ID": str(sign_id), "PageRef": page_id,
        "Boundary": f"{placement.x:g} {placement.y:g} {placement.width:g} {placement.height:g}"})
    ET.SubElement(sig, _ofd("SignedValue")).text = f"/{folder}/SignedValue.dat"
    signature_xml = _xml(sig)

    # encoded once, the seal as its own bytes: it is the bulk (picture, certificates)
    tbs_der = TBSSignWriter({"version": 4, "eseal": Any.load(seal_der), "timeInfo": at,
                             "dataHash": sm3(signature_xml), "propertyInfo": f"/{folder}/Signature.xml"}).dump()
    signature = signer.sign(to_be_signed(tbs_der, signer_cert, oids.SM2_WITH_SM3))
    ses = SESSignatureWriter({"toSign": Any.load(tbs_der), "cert": signer_cert, "signatureAlgID": oids.SM2_WITH_SM3,
                              "signature": signature})

    ET.SubElement(sigs_root, _ofd("Signature"), {"ID": str(sign_id), "Type": "Seal",
                                                 "BaseLoc": f"Sign_{sign_id - 1}/Signature.xml"})
    sigs_root.find(_ofd("MaxSignId")).text = str(sign_id)
    files[SIGNATURES] = _xml(sigs_root)
    files[f"{folder}/Signature.xml"] = signature_xml
    files[f"{folder}/SignedValue.dat"] = ses.dump()
    return files


def sign_ofd(data: bytes, seal_der: bytes, signer: Signer, signer_cert: bytes,
             placement: Placement = Placement(), at: datetime | None = None) -> bytes:
    return zip_package(sign_files(Package.load(data).files, seal_der, signer, signer_cert, placement, at))


@dataclass(frozen=True)
class SignatureReport:
    sign_id: str
    checks: tuple[X.Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def verify_ofd(data: bytes, roots: Sequence, crls: Sequence = (), at: datetime | None = None) -> list[SignatureReport]:
    """Every seal of the document, each with its checks. An unsigned document has no reports."""
    pkg = Package.load(data)
    if SIGNATURES not in pkg.files:
        return []
    reports = []
    covered: set[str] = {SIGNATURES}
    for entry in pkg.xml(SIGNATURES).iter(_ofd("Signature")):
        path = pkg.resolve(SIGNATURES, entry.get("BaseLoc", ""))
        reports.append(_verify_one(pkg, entry.get("ID", "?"), path, roots, crls, at, covered))
    extra = sorted(set(pkg.files) - covered)
    if extra and reports:
        last = reports[-1]
        reports[-1] = SignatureReport(last.sign_id, last.checks + (
            X.Check("no unprotected files", False, f"added after signing: {', '.join(extra)}"),))
    elif reports:
        last = reports[-1]
        reports[-1] = SignatureReport(last.sign_id, last.checks + (X.Check("no unprotected files", True),))
    return reports


def _verify_one(pkg: Package, sign_id: str, path: str, roots, crls, at, covered: set[str]) -> SignatureReport:
    checks: list[X.Check] = []
    try:
        sig = pkg.xml(path)
    except UnsafePackage as exc:
        return SignatureReport(sign_id, (X.Check("signature file", False, str(exc)),))
    covered.add(path)
    bad, count = [], 0
    for ref in sig.iter(_ofd("Reference")):
        name = ref.get("FileRef", "").lstrip("/")
        count += 1
        covered.add(name)
        value = ref.findtext(_ofd("CheckValue"), "").strip()
        if name not in pkg.files:
            bad.append(f"{name} removed")
        elif _check_value(pkg.files[name]) != value:
            bad.append(f"{name} changed")
    checks.append(X.Check("file digests", not bad and count > 0, "; ".join(bad) or f"{count} files intact"))
    value_path = pkg.resolve(path, sig.findtext(_ofd("SignedValue"), "").strip())
    covered.add(value_path)
    try:
        ses = SESSignature.load(pkg.files[value_path], strict=True)
        tbs = ses["toSign"]
        seal, info = _seal(tbs["eseal"].dump())
        signer_der = ses["cert"].native
        signer = X.load(signer_der)
    except (KeyError, ValueError, TypeError, SealError, X.CertificateError) as exc:
        checks.append(X.Check("signature", False, f"SignedValue.dat unreadable: {exc}"))
        return SignatureReport(sign_id, tuple(checks))
    checks.append(X.Check("signature covers Signature.xml", tbs["dataHash"].native == sm3(pkg.files[path])
                          and tbs["propertyInfo"].native.lstrip("/") == path))
    alg = ses["signatureAlgID"].dotted
    ok = alg == oids.SM2_WITH_SM3 and verify(SM2_SM3, X.public_key_der(signer),
                                              to_be_signed(tbs, signer_der, alg), ses["signature"].native)
    checks.append(X.Check("signature", ok, f"signed by {signer.subject.human_friendly}"))
    signed_at = tbs["timeInfo"].native
    chain = X.check_chain(signer, [], roots, signed_at, crls)
    checks.append(X.Check("signer certificate", all(c.ok for c in chain),
                          "; ".join(f"{c.name}: {c.detail}" for c in chain if not c.ok) or "trusted at signing time"))
    checks.append(X.Check("signer allowed by the seal", signer_der in info.signer_certs))
    for c in check_seal(seal, roots, signed_at, crls):
        checks.append(c)
    return SignatureReport(sign_id, tuple(checks))
