"""Password hashes for the login gate: scrypt, salted, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["hash_password", "verify_password"]

# scrypt cost: n=2**15, r=8, p=1 takes about 0.1 s and 32 MiB, the usual interactive setting.
N, R, P = 2**15, 8, 1


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt_hex$hash_hex`` for ``password``."""
    if not password:
        raise ValueError("the password cannot be empty")
    salt = salt or secrets.token_bytes(16)
    return f"scrypt${N}${R}${P}${salt.hex()}${_scrypt(password, salt, N, R, P).hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (never raises)."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.strip().split("$")
        if scheme != "scrypt":
            return False
        candidate = _scrypt(password, bytes.fromhex(salt_hex), int(n), int(r), int(p))
        return hmac.compare_digest(candidate, bytes.fromhex(digest_hex))
    except (ValueError, MemoryError):
        return False
