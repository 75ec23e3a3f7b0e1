"""Time-based one-time codes (RFC 6238, 30-second steps, 6 digits) for the optional second
factor: secrets, the otpauth:// URI an authenticator app reads, its QR code, and checking a
code so that it is accepted once only (ASVS V6.5.1)."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno

ISSUER = "Needle Registry"
#: steps accepted either side of now, for clock drift
TOLERANCE_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code, drawn on the server."""
    return segno.make(uri, error="m").svg_inline(scale=4, title="QR code for your authenticator app")


def matching_step(secret: str, code: str, *, now: datetime, after: int | None) -> int | None:
    """The time step near ``now`` whose code is ``code``, provided it is later than ``after``
    (the last step accepted); None when there is none."""
    code = "".join(code.split())
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - TOLERANCE_STEPS, current + TOLERANCE_STEPS + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
