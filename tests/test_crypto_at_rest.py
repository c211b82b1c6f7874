import os

import pytest

from certledger.crypto.at_rest import EnvelopeCipher, create_kek, load_kek
from certledger.crypto.sm import DecryptionError, sm3


def test_sm3_known_answer():
    # GB/T 32905 example 1
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def make_cipher(tmp_path):
    create_kek(tmp_path / "kek.bin")
    kek = load_kek(tmp_path / "kek.bin")
    return kek, EnvelopeCipher(kek, {1: EnvelopeCipher.new_wrapped_key(kek)}, 1)


def test_kek_file_is_private_and_not_overwritten(tmp_path):
    kek, _ = make_cipher(tmp_path)
    assert (tmp_path / "kek.bin").stat().st_mode & 0o077 == 0
    with pytest.raises(FileExistsError):
        create_kek(tmp_path / "kek.bin")


def test_round_trip_and_context_binding(tmp_path):
    _, c = make_cipher(tmp_path)
    token = c.encrypt("91230199MA1234567X".encode(), "holder:A")
    assert "91230199" not in token
    assert c.decrypt(token, "holder:A") == b"91230199MA1234567X"
    with pytest.raises(DecryptionError):
        c.decrypt(token, "holder:B")


def test_tampered_ciphertext_is_refused(tmp_path):
    import base64

    _, c = make_cipher(tmp_path)
    token = c.encrypt(b"secret")
    prefix, kid, body = token.split(":")
    raw = bytearray(base64.b64decode(body))
    raw[-20] ^= 1
    with pytest.raises(DecryptionError):
        c.decrypt(f"{prefix}:{kid}:{base64.b64encode(bytes(raw)).decode()}")


def test_other_kek_cannot_unwrap(tmp_path):
    kek, c = make_cipher(tmp_path)
    wrapped = EnvelopeCipher.new_wrapped_key(kek)
    with pytest.raises(DecryptionError):
        EnvelopeCipher(os.urandom(16), {1: wrapped}, 1)


def test_blind_index_is_keyed_and_normalised(tmp_path):
    _, c = make_cipher(tmp_path)
    assert c.blind_index(" 91230199ma1234567x ") == c.blind_index("91230199MA1234567X")
    _, other = make_cipher(tmp_path / "other")
    assert other.blind_index("X") != c.blind_index("X")
