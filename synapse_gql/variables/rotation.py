"""Re-encrypt every stored value under the current secret, after a secret rotation.

Run it once the new secret is live with the old one in ``SYNAPSE_PREVIOUS_SECRET_KEYS``;
afterwards the old secret may be dropped. Each batch commits on its own, so a rerun after
an interruption simply re-encrypts again (rotating is idempotent).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.db import Database
from synapse_gql.errors import ConfigurationError
from synapse_gql.models import UserVariable, WorkspaceSecret
from synapse_gql.security.keys import InvalidToken, Keyring

EncryptedModel = type[UserVariable] | type[WorkspaceSecret]
ENCRYPTED_MODELS: tuple[EncryptedModel, ...] = (UserVariable, WorkspaceSecret)


async def rotate_secrets(db: Database, keyring: Keyring, batch_size: int = 500) -> int:
    """Re-encrypt all user variables and workspace secrets; returns how many values."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    total = 0
    for model in ENCRYPTED_MODELS:
        total += await _rotate_model(db, keyring, model, batch_size)
    return total


async def _rotate_model(
    db: Database, keyring: Keyring, model: EncryptedModel, batch_size: int
) -> int:
    count, after = 0, None
    while True:
        async with db.transaction() as session:
            last = await _rotate_batch(session, keyring, model, after, batch_size)
        if last is None:
            return count
        done, after = last
        count += done
        if done < batch_size:
            return count


async def _rotate_batch(
    session: AsyncSession,
    keyring: Keyring,
    model: EncryptedModel,
    after: uuid.UUID | None,
    size: int,
) -> tuple[int, uuid.UUID] | None:
    """Rotate the next ``size`` rows by id; (rows done, last id), None when none are left."""
    stmt = select(model.id, model.value_encrypted, model.updated_at).order_by(model.id)
    if after is not None:
        stmt = stmt.where(model.id > after)
    rows = (await session.execute(stmt.limit(size).with_for_update())).all()
    if not rows:
        return None
    changes = [
        # updated_at is passed unchanged: the value did not change, only its encryption.
        {
            "id": row.id,
            "value_encrypted": _rotate(keyring, model, row),
            "updated_at": row.updated_at,
        }
        for row in rows
    ]
    await session.execute(update(model), changes)
    return len(rows), rows[-1].id


def _rotate(keyring: Keyring, model: EncryptedModel, row: Row[uuid.UUID, str, datetime]) -> str:
    try:
        return keyring.rotate(row.value_encrypted)
    except InvalidToken:
        raise ConfigurationError(
            f"A value in {model.__tablename__} (id {row.id}) decrypts with none of the "
            "configured secrets: add the secret it was written with to "
            "SYNAPSE_PREVIOUS_SECRET_KEYS and run the rotation again."
        ) from None
