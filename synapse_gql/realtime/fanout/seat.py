"""A subscriber's place in a shared group, whatever the group's source.

The steps are the same for every shared subscribe: build the subscriber on its group's
executor (``VariablesRefused`` when the variables do not fit), enter the viewer's access
watch, run the access check, then join the group. What differs is left to a subclass:
where reading starts, the access check, and how the group is joined and left (an
answer's feed, a workspace's metrics group).
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from graphql.execution.values import get_argument_values

from synapse_gql.errors import DomainError
from synapse_gql.realtime.fanout.payloads import group_key
from synapse_gql.realtime.fanout.subscriber import Subscriber

if TYPE_CHECKING:
    from synapse_gql.realtime.fanout.operation import FeedOperation


class Seat(ABC):
    """A subscriber's place: its group (see the subclass) and its viewer's access watch."""

    def __init__(self, operation: FeedOperation) -> None:
        self.operation = operation
        self.hub = operation.hub
        self.key = group_key(operation.document.text, operation.operation_name, operation.variables)
        self.subscriber: Subscriber | None = None
        self.arguments: dict[str, Any] = {}
        self._viewer_id: uuid.UUID | None = None

    @abstractmethod
    def start_after(self) -> int:
        """The sequence the subscriber reads after (from ``self.arguments``)."""

    @abstractmethod
    def access_check(self) -> Callable[[], Awaitable[Any]]:
        """The subscription's access check (``DomainError`` when refused); what it
        returns is handed to :meth:`enter_group`."""

    @abstractmethod
    def enter_group(self, checked: Any, subscriber: Subscriber) -> None:
        """Add ``subscriber`` to its group, ``checked`` being its access check's result."""

    @abstractmethod
    def leave_group(self, subscriber: Subscriber) -> None:
        """Take ``subscriber`` out of its group, if it is in one."""

    def _build(self) -> Subscriber:
        """The subscriber, its group's executor built (``VariablesRefused``) when new."""
        operation, hub = self.operation, self.hub
        document, context = operation.document, operation.context
        executor = hub.executors.get(self.key, document.document, operation.variables, context)
        root_type = hub.schema._schema.subscription_type
        assert root_type is not None
        field = root_type.fields[document.root.name.value]
        self.arguments = get_argument_values(field, document.root, executor.variable_values)
        self.subscriber = Subscriber(
            operation.writer,
            operation.operation_id,
            operation.message_type,
            self.start_after(),
            context,
            executor,
            check=self.access_check(),
        )
        return self.subscriber

    async def join(self) -> None:
        """Refuse the subscriber (``SubscriptionRefused``) or add it to its group once its
        access check passes."""
        subscriber = self._build()
        try:
            viewer_id = self.operation.context.require_viewer().id
            await self.hub.watches.enter(viewer_id, subscriber)
            self._viewer_id = viewer_id  # news is heard from here on: check now
            checked = await subscriber.check()
            self.enter_group(checked, subscriber)
        except DomainError as error:
            await subscriber.refuse(error)
        except BaseException:
            self.leave()
            raise

    async def refuse(self, error: DomainError) -> None:
        """End with the refusal ``error``, out of any group."""
        self.leave()
        subscriber = self.subscriber or self._build()
        subscriber.active = True  # only the refusal is sent
        await subscriber.refuse(error)

    def leave(self) -> None:
        """Stop the subscriber and take it out of its group and watch."""
        subscriber = self.subscriber
        if subscriber is None:
            return
        subscriber.active = False
        self.leave_group(subscriber)
        if self._viewer_id is not None:
            self.hub.watches.leave(self._viewer_id, subscriber)
            self._viewer_id = None
