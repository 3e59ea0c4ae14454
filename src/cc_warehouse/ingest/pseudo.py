"""Pseudonymisation of NHS numbers: HMAC-SHA256 computed inside DuckDB, never in a row loop.

HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m)), with K' the key padded to
the 64-byte block. The two padded keys are passed to DuckDB as parameters, so the key itself
never appears in SQL text, logs or error messages.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from cc_warehouse.config import DEMO_MARKER, DEMO_PSEUDO_KEY

BLOCK = 64


class KeyError_(Exception):
    """The pseudonymisation key is missing or must not be used on this data."""


@dataclass(frozen=True)
class PseudoKey:
    ipad: bytes
    opad: bytes
    fingerprint: str  # identifies the key without revealing it

    def params(self) -> dict[str, bytes]:
        return {"hmac_ipad": self.ipad, "hmac_opad": self.opad}


def make_key(secret: str) -> PseudoKey:
    raw = secret.encode("utf-8")
    if len(raw) > BLOCK:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(BLOCK, b"\0")
    fingerprint = hmac.new(secret.encode("utf-8"), b"cc-warehouse key check", "sha256")
    return PseudoKey(
        ipad=bytes(b ^ 0x36 for b in raw),
        opad=bytes(b ^ 0x5C for b in raw),
        fingerprint=fingerprint.hexdigest()[:16],
    )


def choose_key(env_key: str | None, landing_dir: Path) -> tuple[PseudoKey, bool]:
    """The key to use, and whether the landing folder is the synthetic demo.

    The demo generator marks its landing folder; only there may the (public) demo key be used,
    and only there may the key be left unset.
    """
    is_demo = (landing_dir / DEMO_MARKER).is_file()
    if env_key is None:
        if not is_demo:
            raise KeyError_(
                "CC_PSEUDO_KEY is not set. Real extracts are pseudonymised with a secret key: "
                "set CC_PSEUDO_KEY to the key your organisation keeps for this warehouse "
                "(at least 16 characters). Only the synthetic demo city runs without one."
            )
        return make_key(DEMO_PSEUDO_KEY), True
    if env_key == DEMO_PSEUDO_KEY and not is_demo:
        raise KeyError_(
            "CC_PSEUDO_KEY is the public demo key, but this landing folder is not the synthetic "
            f"demo (it has no {DEMO_MARKER}). Use your organisation's secret key."
        )
    if len(env_key) < 16 and not is_demo:
        raise KeyError_("CC_PSEUDO_KEY is too short: use at least 16 characters.")
    return make_key(env_key), is_demo


def hmac_sql(digits: str) -> str:
    """SQL for the hex HMAC of a VARCHAR expression, using the hmac_* parameters."""
    inner = f"unhex(sha256($hmac_ipad || encode({digits})))"
    return f"sha256($hmac_opad || {inner})"


def modulus11_sql(digits: str) -> str:
    """SQL that is true when a 10-digit VARCHAR passes the NHS number Modulus 11 check.

    The check digit is 11 - (sum of the first nine digits weighted 10 down to 2) mod 11, and
    a check of 10 is never valid; as the tenth digit is 0-9, that is the same as asking that
    the weighted sum plus the tenth digit be a multiple of 11. Integer arithmetic on the
    number, without taking the text apart, keeps it cheap.
    """
    number = f"try_cast({digits} as bigint)"
    terms = [f"{11 - position} * ({number} // {10 ** (10 - position)} % 10)" for position in range(1, 10)]
    return f"(({' + '.join(terms)} + {number} % 10) % 11 = 0)"
