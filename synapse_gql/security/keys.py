"""Keys derived from the server secret: one for signing tokens, one for encryption."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ACCESS_TOKEN_AUDIENCE = "synapse-gql"
API_TOKEN_PREFIX = "sgq_"
JWT_ALGORITHM = "HS256"


def _derive(secret: str, purpose: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose)
    return hkdf.derive(secret.encode())


def digest(token: str) -> str:
    """SHA-256 hex digest, how API and invitation tokens are stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token() -> str:
    """A fresh random API token, shown to its owner once."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_invitation_token() -> str:
    return secrets.token_urlsafe(32)


class InvalidLink(Exception):
    """A signed link that is forged, malformed, for another purpose, or ``expired``."""

    def __init__(self, expired: bool) -> None:
        super().__init__("The link has expired." if expired else "The link is not valid.")
        self.expired = expired


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    expires_at: datetime


class Keyring:
    """Signs access tokens and encrypts values at rest.

    ``previous`` secrets still decrypt old ciphertexts after a rotation; new ones are
    always written with the current secret.
    """

    def __init__(self, secret: str, previous: list[str] | None = None) -> None:
        self._signing_key = _derive(secret, b"synapse-gql/access-token")
        self._link_key = _derive(secret, b"synapse-gql/signed-link")
        fernets = [self._fernet(s) for s in [secret, *(previous or [])]]
        self._cipher = MultiFernet(fernets)

    @staticmethod
    def _fernet(secret: str) -> Fernet:
        key = _derive(secret, b"synapse-gql/encryption-at-rest")
        return Fernet(base64.urlsafe_b64encode(key))

    def issue_access_token(self, user_id: uuid.UUID, ttl: timedelta) -> tuple[str, datetime]:
        """A signed, short-lived bearer token for ``user_id``."""
        now = datetime.now(UTC)
        expires = now + ttl
        claims = {"sub": str(user_id), "iat": now, "exp": expires, "aud": ACCESS_TOKEN_AUDIENCE}
        return jwt.encode(claims, self._signing_key, algorithm=JWT_ALGORITHM), expires

    def read_access_token(self, token: str) -> AccessClaims | None:
        """The claims of a valid token, or None when forged, expired or malformed."""
        try:
            claims = jwt.decode(
                token, self._signing_key, algorithms=[JWT_ALGORITHM], audience=ACCESS_TOKEN_AUDIENCE
            )
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        except (jwt.PyJWTError, KeyError, ValueError):
            return None

    def issue_link_token(
        self, purpose: str, claims: dict[str, Any], ttl: timedelta
    ) -> tuple[str, datetime]:
        """A signed token for a link that grants ``claims`` for ``purpose`` until it expires;
        its key is derived apart from the access tokens', so neither passes for the other."""
        expires = datetime.now(UTC) + ttl
        payload = {**claims, "exp": expires, "aud": f"{ACCESS_TOKEN_AUDIENCE}/{purpose}"}
        return jwt.encode(payload, self._link_key, algorithm=JWT_ALGORITHM), expires

    def read_link_token(self, token: str, purpose: str) -> dict[str, Any]:
        """The claims of a link token issued for ``purpose``; ``InvalidLink`` otherwise."""
        try:
            return jwt.decode(
                token,
                self._link_key,
                algorithms=[JWT_ALGORITHM],
                audience=f"{ACCESS_TOKEN_AUDIENCE}/{purpose}",
                options={"require": ["exp", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidLink(expired=True) from None
        except jwt.PyJWTError:
            raise InvalidLink(expired=False) from None

    def encrypt(self, plaintext: str) -> str:
        return self._cipher.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Decrypt with the current or any previous secret; raises ``InvalidToken``."""
        return self._cipher.decrypt(ciphertext.encode()).decode()

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt a ciphertext under the current secret."""
        return self._cipher.rotate(ciphertext.encode()).decode()


__all__ = ["AccessClaims", "InvalidLink", "InvalidToken", "Keyring", "digest", "new_api_token"]
