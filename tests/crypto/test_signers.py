"""Every signer, in software and on a real PKCS#11 token (SoftHSM2)."""

import os
import shutil
import subprocess

import pytest

from certledger.crypto import signers
from certledger.crypto.sm2 import SM2PrivateKey

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "123456"


@pytest.mark.parametrize("signer", [
    signers.SoftSM2Signer(SM2PrivateKey.generate()), signers.SoftECDSASigner(), signers.SoftRSASigner()],
    ids=lambda s: s.algorithm)
def test_soft_signers_verify_and_reject(signer):
    sig = signer.sign(b"payload")
    assert signers.verify(signer.algorithm, signer.public_key_der(), b"payload", sig)
    assert not signers.verify(signer.algorithm, signer.public_key_der(), b"payload!", sig)
    other = [a for a in signers.ALGORITHMS if a != signer.algorithm][0]
    assert not signers.verify(other, signer.public_key_der(), b"payload", sig)
    assert not signers.verify(signer.algorithm, b"garbage", b"payload", sig)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory):
    """A fresh SoftHSM2 token, initialised the way an operator would with softhsm2-util."""
    if not os.path.exists(SOFTHSM_LIB) or not shutil.which("softhsm2-util"):
        pytest.fail("SoftHSM2 is missing: ./scripts/test installs Debian's softhsm2 package")
    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "certledger-test", "--pin", PIN,
                    "--so-pin", "12345678"], check=True, capture_output=True)
    return SOFTHSM_LIB


@pytest.mark.parametrize("algorithm", [signers.ECDSA_SHA256, signers.RSA_SHA256])
def test_token_keys_sign_and_verify_on_the_host(softhsm, algorithm):
    from certledger.crypto.pkcs11_token import Token

    token = Token(softhsm, "certledger-test", PIN)
    try:
        signer = token.generate(f"seal-{algorithm}", algorithm)
        sig = signer.sign("电子印章".encode())
        assert signers.verify(algorithm, signer.public_key_der(), "电子印章".encode(), sig)
        assert not signers.verify(algorithm, signer.public_key_der(), b"other", sig)
        again = token.signer(f"seal-{algorithm}", algorithm)  # found again by label
        assert again.public_key_der() == signer.public_key_der()
    finally:
        token.close()


def test_token_refusals(softhsm):
    from certledger.crypto.pkcs11_token import Token, TokenError

    with pytest.raises(TokenError, match="wrong PIN"):
        Token(softhsm, "certledger-test", "000000")
    with pytest.raises(TokenError, match="cannot open token"):
        Token(softhsm, "no-such-token", PIN)
    token = Token(softhsm, "certledger-test", PIN)
    try:
        with pytest.raises(TokenError, match="no sm2-sm3 keys"):
            token.generate("x", signers.SM2_SM3)
        with pytest.raises(TokenError, match="NoSuchKey"):
            token.signer("absent", signers.ECDSA_SHA256)
    finally:
        token.close()
