"""Passport's ``NewSchemeDispatch`` in miniature (PROTOCOL.md §2.1, §2.2).

The header is split at the first space; only the case-sensitive ``ApiKey-v1`` scheme
is honoured (the sandbox has no JWKS, so ``Bearer`` always fails, exactly like an API
key sent as a bearer token does against the real daemon).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MISSING_HEADER = b'{"error":"auth: missing Authorization header"}\n'
INVALID_TOKEN = b'{"error":"auth: invalid token"}\n'


@dataclass(frozen=True)
class Identity:
    """An API key the sandbox accepts and the Passport identity it stands for."""

    username: str
    key: str
    type: str = "user"


def authenticate(header: str | None, keys: Mapping[str, Identity]) -> Identity | bytes:
    """Return the identity for ``header``, or the exact 401 JSON body to answer with."""
    if not header:
        return MISSING_HEADER
    scheme, space, credential = header.partition(" ")
    if not space or not credential:
        return MISSING_HEADER
    if scheme != "ApiKey-v1":
        return INVALID_TOKEN
    identity = keys.get(credential)
    return identity if identity is not None else INVALID_TOKEN
