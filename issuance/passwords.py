"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import ValidationError

DEFAULT_HASHER = PasswordHasher()


def make_hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    """Deployments keep the argon2 defaults; the cost is configurable for small machines and tests."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=2)

CLASSES = (
    ("lowercase letters", set(string.ascii_lowercase)),
    ("uppercase letters", set(string.ascii_uppercase)),
    ("digits", set(string.digits)),
    ("symbols", set(string.punctuation)),
)


def check_policy(password: str, min_length: int = 8, min_classes: int = 3, field: str = "password") -> None:
    """The seed asks for at least 6 characters; deployments may ask for more and for variety."""
    if len(password) < min_length:
        raise ValidationError({field: f"at least {min_length} characters are required"})
    present = [name for name, chars in CLASSES if chars.intersection(password)]
    if len(present) < min_classes:
        names = ", ".join(n for n, _ in CLASSES)
        raise ValidationError({field: f"use at least {min_classes} of: {names}"})


def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return hasher.hash(password)


def verify_password(stored_hash: str, password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """Verification reads the cost from the stored hash, so any hasher verifies any of our hashes."""
    try:
        return hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    return hasher.check_needs_rehash(stored_hash)
