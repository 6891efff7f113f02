"""The schema extensions' hooks of every operation, without rebuilding them per operation.

Strawberry's ``SchemaExtensionsRunner`` inspects every extension's hook at every stage
of every operation (is it a generator? an async generator?) and wraps it with
``contextlib.contextmanager``, whose ``functools.wraps`` copy is the larger part of a
stage's cost. A thousand subscribes arriving together pay that a thousand times for the
same answer. :class:`CachedHooksRunner` keeps what the inspection found per hook stage
and extension class, and builds each hook's context manager directly; the hooks run
exactly as before (same order, same exit stack), and a hook of any other form (a plain
callable) takes Strawberry's own path.
"""

from __future__ import annotations

import inspect
from contextlib import _AsyncGeneratorContextManager, _GeneratorContextManager
from functools import partial
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

GENERATOR = "generator"
ASYNC_GENERATOR = "async generator"
OTHER = "other"

# Per stage and extension classes: the extensions with a hook, what the hook is.
Plan = list[tuple[int, str, Any]]
_plans: dict[tuple[str, tuple[type, ...]], Plan] = {}


def _plan(stage: str, classes: tuple[type, ...]) -> Plan:
    plan = _plans.get((stage, classes))
    if plan is None:
        plan = _plans[(stage, classes)] = []
        default = getattr(SchemaExtension, stage)
        for index, extension_class in enumerate(classes):
            hook = getattr(extension_class, stage)
            if hook is default or not hook:
                continue
            if inspect.isgeneratorfunction(hook):
                plan.append((index, GENERATOR, hook))
            elif inspect.isasyncgenfunction(hook):
                plan.append((index, ASYNC_GENERATOR, hook))
            else:
                plan.append((index, OTHER, hook))
    return plan


class _CachedHooks(ExtensionContextManagerBase):
    """The stage's hooks from the plan of its extension classes (see the module
    docstring)."""

    def __init__(self, extensions: list[SchemaExtension]) -> None:
        self.default_hook = getattr(SchemaExtension, self.HOOK_NAME)
        plan = _plan(self.HOOK_NAME, tuple(type(extension) for extension in extensions))
        self.hooks = [self._wrap(extensions[index], kind, hook) for index, kind, hook in plan]

    def _wrap(self, extension: SchemaExtension, kind: str, hook: Any) -> WrappedHook:
        if kind == GENERATOR:
            made = partial(_GeneratorContextManager, hook, (extension,), {})
            return WrappedHook(extension, made, False)
        if kind == ASYNC_GENERATOR:
            made_async = partial(_AsyncGeneratorContextManager, hook, (extension,), {})
            return WrappedHook(extension, made_async, True)
        wrapped = self.get_hook(extension)
        assert wrapped is not None
        return wrapped


class _Operation(_CachedHooks, OperationContextManager):
    pass


class _Validation(_CachedHooks, ValidationContextManager):
    pass


class _Parsing(_CachedHooks, ParsingContextManager):
    pass


class _Executing(_CachedHooks, ExecutingContextManager):
    pass


class CachedHooksRunner(SchemaExtensionsRunner):
    """Strawberry's runner, its stages built from the cache of hook kinds (the stream
    result stage, used only by refusals, keeps Strawberry's)."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)


def hooks_runner(
    execution: ExecutionContext, extensions: list[SchemaExtension]
) -> CachedHooksRunner:
    """The runner of one hub subscribe's extensions."""
    return CachedHooksRunner(execution_context=execution, extensions=extensions)
