"""GB/T 36904 certificate identifiers.

``1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>.<check>``; the check character is
ISO/IEC 7064 MOD 37,36 over the type code, issuer code, serial and version with the dots
removed (checked against identifiers seen in production, e.g.
``1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.iso7064 import mod_37_36

ROOT = "1.2.156.3005.2"
SERIAL_WIDTH = 7
VERSION_WIDTH = 3
_PART = re.compile(r"^[0-9A-Z]+$")


class IdentifierError(ValueError):
    pass


@dataclass(frozen=True)
class Identifier:
    type_code: str
    issuer_code: str
    serial: str
    version: str
    check: str

    def __str__(self) -> str:
        return ".".join([ROOT, self.type_code, self.issuer_code, self.serial, self.version, self.check])


def _payload(type_code: str, issuer_code: str, serial: str, version: str) -> str:
    return f"{type_code}{issuer_code}{serial}{version}"


def make(type_code: str, issuer_code: str, serial: int, version: int = 1) -> Identifier:
    type_code, issuer_code = type_code.upper(), issuer_code.upper()
    for name, part in (("type code", type_code), ("issuer code", issuer_code)):
        if not _PART.match(part):
            raise IdentifierError(f"{name} {part!r} must be letters A-Z and digits only")
    if serial < 1 or version < 1:
        raise IdentifierError("serial and version start at 1")
    s, v = str(serial).zfill(SERIAL_WIDTH), str(version).zfill(VERSION_WIDTH)
    return Identifier(type_code, issuer_code, s, v, mod_37_36.calc_check_digit(_payload(type_code, issuer_code, s, v)))


def parse(text: str) -> Identifier:
    """Split and check an identifier; raises IdentifierError naming what is wrong."""
    text = (text or "").strip()
    if not text.startswith(ROOT + "."):
        raise IdentifierError(f"identifier must start with {ROOT}")
    parts = text[len(ROOT) + 1:].split(".")
    if len(parts) != 5 or not all(parts):
        raise IdentifierError("identifier needs type code, issuer code, serial, version and check character")
    ident = Identifier(*parts)
    if not all(_PART.match(p) for p in parts):
        raise IdentifierError("identifier parts may hold only A-Z and digits")
    try:
        mod_37_36.validate(_payload(ident.type_code, ident.issuer_code, ident.serial, ident.version) + ident.check)
    except StdnumError:
        raise IdentifierError("check character does not match (mistyped identifier?)") from None
    return ident


def is_valid(text: str) -> bool:
    try:
        parse(text)
        return True
    except IdentifierError:
        return False
