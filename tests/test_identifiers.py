import pytest

from issuance import identifiers
from issuance.identifiers import IdentifierError

REAL = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"


def test_identifier_seen_in_production_checks():
    ident = identifiers.parse(REAL)
    assert ident.type_code == "11100000000013338W032" and ident.check == "F"
    assert str(identifiers.make("11100000000013338W032", "11220000013544541J", 2430599, 1)) == REAL


def test_serial_and_version_are_padded():
    ident = identifiers.make("ABC", "11230100MB0000001X", 5, 2)
    assert str(ident).split(".")[-3:-1] == ["0000005", "002"]
    assert identifiers.is_valid(str(ident))


@pytest.mark.parametrize("text, why", [
    (REAL[:-1] + "G", "check character"),
    (REAL.replace("2430599", "2430598"), "check character"),
    ("1.2.156.3005.3.X.Y.0000001.001.A", "must start"),
    ("1.2.156.3005.2.X.Y.0000001.A", "needs type code"),
    ("1.2.156.3005.2.x-1.Y.0000001.001.A", "only A-Z"),
    ("", "must start"),
])
def test_bad_identifiers_are_refused_with_reason(text, why):
    with pytest.raises(IdentifierError, match=why):
        identifiers.parse(text)


def test_make_refuses_bad_parts():
    with pytest.raises(IdentifierError):
        identifiers.make("AB.C", "X", 1)
    with pytest.raises(IdentifierError):
        identifiers.make("ABC", "X", 0)


def test_every_single_character_change_is_detected():
    base = str(identifiers.make("11100000000013338W032", "11220000013544541J", 77, 1))
    body = base[len(identifiers.ROOT) + 1:]
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for i, ch in enumerate(body[:-2]):
        if ch == ".":
            continue
        other = alphabet[(alphabet.index(ch) + 1) % 36]
        changed = identifiers.ROOT + "." + body[:i] + other + body[i + 1:]
        assert not identifiers.is_valid(changed), changed
