"""Provider registrations: each adapter module declares, next to its adapter, how the server
builds it, the variable holding its API key and its default base URL.

A new provider is one module that calls :func:`register_provider` (or decorates its factory
with :func:`provider`) plus one import in :mod:`~synapse_gql.llm.registry`; key look-up,
server-wide keys, default URLs and the error naming the variable to set all read from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from synapse_gql.llm.base import Provider, Timeouts

Factory = Callable[[str | None, Timeouts], Provider]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """How one provider is served.

    ``build(base_url, timeouts)`` makes the adapter; ``key_variable`` names the user variable
    and workspace secret holding its key (``OPENAI_API_KEY``); ``settings_key`` is the
    :class:`~synapse_gql.config.Settings` field of the server-wide key (None: none);
    ``base_url`` is where it is reached unless ``SYNAPSE_PROVIDER_BASE_URLS`` says otherwise
    (None: the SDK's default).
    """

    name: str
    build: Factory
    key_variable: str
    settings_key: str | None
    base_url: str | None = None


_REGISTRY: dict[str, ProviderSpec] = {}


def register_provider(spec: ProviderSpec) -> ProviderSpec:
    """Add ``spec``; a second registration of one name is a programming error."""
    if spec.name in _REGISTRY:
        raise ValueError(f"provider {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def provider(
    name: str, *, key_variable: str, settings_key: str | None, base_url: str | None = None
) -> Callable[[Factory], Factory]:
    """Register the decorated factory as provider ``name``."""

    def decorate(build: Factory) -> Factory:
        register_provider(ProviderSpec(name, build, key_variable, settings_key, base_url))
        return build

    return decorate


def registered() -> dict[str, ProviderSpec]:
    """Every registration by name, in registration order."""
    return dict(_REGISTRY)


def key_variable(name: str) -> str:
    """The variable holding ``name``'s key: the registered one, else ``<NAME>_API_KEY``
    (hosts added by settings only)."""
    spec = _REGISTRY.get(name)
    if spec is not None:
        return spec.key_variable
    return re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") + "_API_KEY"


def settings_key(name: str) -> str | None:
    """The settings field of ``name``'s server-wide key, if it has one."""
    spec = _REGISTRY.get(name)
    return None if spec is None else spec.settings_key
