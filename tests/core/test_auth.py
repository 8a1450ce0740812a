"""Password hashes for the login gate: salted scrypt that verifies its own password only."""

from __future__ import annotations

import hashlib

import pytest

from core.auth import hash_password, verify_password

SALT = bytes(range(16))
# ``hash_password("correct horse", salt=SALT)``: a hash stored in REACH_PASSWORD_HASH must keep verifying.
STORED = (
    "scrypt$32768$8$1$000102030405060708090a0b0c0d0e0f$5c662628ac4eb1068a287e2aa2a202ae248e98db04d61d3327e7342db6ec7097"
)


def test_a_hash_verifies_its_own_password_and_no_other() -> None:
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored) is True
    assert verify_password("correct horsf", stored) is False
    assert verify_password("Correct horse", stored) is False
    assert verify_password("", stored) is False


def test_a_hash_is_scrypt_with_its_cost_and_a_fresh_salt() -> None:
    a, b = hash_password("pw"), hash_password("pw")
    assert a != b  # a new random salt each time
    scheme, n, r, p, salt_hex, digest_hex = a.split("$")
    assert (scheme, n, r, p) == ("scrypt", "32768", "8", "1")
    assert len(bytes.fromhex(salt_hex)) == 16 and len(bytes.fromhex(digest_hex)) == 32
    assert a.split("$")[4] != b.split("$")[4]
    assert verify_password("pw", a) and verify_password("pw", b)


def test_a_given_salt_gives_the_same_hash_as_before() -> None:
    assert hash_password("correct horse", salt=SALT) == STORED
    assert verify_password("correct horse", STORED) is True
    assert verify_password("correct horse", f"  {STORED}\n") is True  # pasted with a trailing newline


def test_the_cost_stored_with_the_hash_is_the_one_used() -> None:
    digest = hashlib.scrypt(b"pw", salt=SALT, n=2**10, r=8, p=1, dklen=32).hex()
    assert verify_password("pw", f"scrypt$1024$8$1${SALT.hex()}${digest}") is True
    assert verify_password("pw", f"scrypt$2048$8$1${SALT.hex()}${digest}") is False


def test_an_empty_password_cannot_be_hashed() -> None:
    with pytest.raises(ValueError, match="the password cannot be empty"):
        hash_password("")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "correct horse",
        STORED.replace("scrypt$", "bcrypt$", 1),  # another scheme
        STORED.rsplit("$", 1)[0],  # a field missing
        STORED + "$00",  # a field too many
        STORED.replace("$32768$", "$lots$"),  # cost not a number
        STORED.replace("$32768$", "$1000$"),  # cost not a power of two
        STORED.replace("000102", "zz0102"),  # salt not hex
        STORED[:-1] + "g",  # digest not hex
        STORED[:-2],  # digest cut short
    ],
)
def test_a_malformed_hash_is_refused_without_raising(stored: str) -> None:
    assert verify_password("correct horse", stored) is False
