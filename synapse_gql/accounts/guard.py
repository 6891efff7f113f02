"""Slowing down password guessing and mass sign-ups.

Failed logins count per account (the email, known or not: an unknown email behaves
exactly like a known one, so the limit reveals nothing) and per client address. An
account slows down after its second failure (a doubling wait) and is locked after
``SYNAPSE_LOGIN_MAX_FAILURES``; an address is locked after
``SYNAPSE_LOGIN_MAX_FAILURES_PER_ADDRESS``. A lock refuses logins only: access tokens
and API tokens already issued keep working. Registrations count per address per hour.
"""

from __future__ import annotations

from synapse_gql.config import Settings
from synapse_gql.errors import DomainError, ErrorCode
from synapse_gql.security.client_address import trusted_networks
from synapse_gql.security.keys import digest
from synapse_gql.security.throttle import CounterStore, Limit, Limiter

HOUR = 3600


class TooManyAttempts(DomainError):
    """Refused before looking at the credentials; try again in ``retry_after`` seconds."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts: try again in {retry_after} seconds.")
        self.retry_after = retry_after


def _account_key(email: str) -> str:
    # Counters are keyed by a digest: the store never holds an email address.
    return digest(email.strip().lower())


class LoginGuard:
    """Login and registration limits over a shared :class:`CounterStore`."""

    def __init__(self, store: CounterStore, settings: Settings) -> None:
        trusted_networks(tuple(settings.trusted_proxies))  # a bad entry fails at start-up
        window, lock = settings.login_failure_window_seconds, settings.login_lock_seconds
        self.store = store
        self.accounts = Limiter(
            store,
            Limit(
                "login-account",
                settings.login_max_failures,
                window,
                lock,
                backoff_seconds=settings.login_backoff_seconds,
            ),
        )
        self.addresses = Limiter(
            store, Limit("login-address", settings.login_max_failures_per_address, window, lock)
        )
        per_hour = settings.registrations_per_address_per_hour
        self.registrations = Limiter(store, Limit("register-address", per_hour, HOUR, HOUR))

    async def check_login(self, email: str, address: str) -> None:
        """``TooManyAttempts`` while the account or the address must wait."""
        wait = max(
            await self.accounts.retry_after(_account_key(email)),
            await self.addresses.retry_after(address),
        )
        if wait > 0:
            raise TooManyAttempts(wait)

    async def login_failed(self, email: str, address: str) -> None:
        """Count a wrong password (or unknown email) against both."""
        await self.accounts.hit(_account_key(email))
        await self.addresses.hit(address)

    async def login_succeeded(self, email: str) -> None:
        """The account starts again from zero (the address does not)."""
        await self.accounts.reset(_account_key(email))

    async def admit_registration(self, address: str) -> None:
        """Count a registration attempt; ``TooManyAttempts`` once the address used its hour."""
        wait = await self.registrations.retry_after(address)
        if wait > 0:
            raise TooManyAttempts(wait)
        await self.registrations.hit(address)

    async def close(self) -> None:
        """Release the store's connections."""
        await self.store.close()
