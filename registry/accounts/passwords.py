"""The password policy (OWASP ASVS 5.0 V6.2): long enough, long passphrases allowed, no
composition rules, not a common password. Hashing is werkzeug's scrypt (``User.set_password``),
a memory-hard KDF approved by ASVS V11.4.2."""

from __future__ import annotations

from functools import cache
from pathlib import Path

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
#: vendored from the PyPI package Django; source and license in the file's header
COMMON_PASSWORDS = Path(__file__).resolve().parents[2] / "data" / "common-passwords.txt"


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("##"))


def password_problem(password: str) -> str | None:
    """What is wrong with ``password`` as a new password, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must have at least {MIN_PASSWORD_LENGTH} characters; a few words make a good one."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password may have at most {MAX_PASSWORD_LENGTH} characters."
    if password.strip().lower() in common_passwords():
        return "This password is one of the most common passwords; choose another."
    return None
