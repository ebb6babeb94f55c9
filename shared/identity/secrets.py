"""Project secrets: random, stored only as a hash, compared in constant time."""

import hashlib
import hmac
import secrets

PREFIX_LEN = 8
_DUMMY_HASH = hashlib.sha256(b"switchboard-no-such-project").hexdigest()


def new_secret() -> str:
    """A fresh secret: 32 random bytes as hex (XPARO's own format)."""
    return secrets.token_hex(32)


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret (a slow KDF adds nothing for 256 random bits)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_prefix(secret: str) -> str:
    """The public part of a secret shown to help tell keys apart."""
    return secret[:PREFIX_LEN]


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    """Constant-time check of `secret` against a stored hash; None still costs a comparison."""
    candidate = hash_secret(secret)
    expected = stored_hash if stored_hash is not None else _DUMMY_HASH
    return hmac.compare_digest(candidate, expected) and stored_hash is not None
