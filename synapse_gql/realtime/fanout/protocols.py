"""Both WebSocket protocols with the hub: a subscribe whose single root field is a shared
one (an answer's feed, or another route's field: see ``FeedRoute``) is served by the hub;
every other message keeps Strawberry's handling. A socket's hub frames, and the
``complete`` that follows them, go through its :class:`SocketWriter`, so they leave in
order and the hub never waits for the socket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.execution import PreExecutionError

from synapse_gql.realtime.fanout.documents import FeedDocument, FeedDocuments
from synapse_gql.realtime.fanout.hub import FeedHub, hub_of
from synapse_gql.realtime.fanout.operation import AnswerSeat, FeedOperation, run_feed_operation
from synapse_gql.realtime.fanout.seat import Seat
from synapse_gql.realtime.fanout.writer import SocketWriter
from synapse_gql.state import AppState


@dataclass(frozen=True, slots=True)
class FeedRoute:
    """A kind of shared subscribe: the documents it serves (their root fields, see
    ``documents``) and the seat that places its subscribers in their group."""

    documents: Callable[[AppState, FeedHub], FeedDocuments]
    seat: type[Seat]


ANSWER_FEEDS = FeedRoute(lambda state, hub: hub.documents, AnswerSeat)


class _FeedRouting:
    """What both handlers share: the socket's writer and the choice of path (the first of
    ``routes`` whose documents take the subscribe, else Strawberry's)."""

    context: Any
    schema: Any
    websocket: Any
    writer: SocketWriter | None = None
    routes: tuple[FeedRoute, ...] = (ANSWER_FEEDS,)

    def feed_operation(
        self, operation_id: str, query: object, variables: object, name: object, kind: str
    ) -> FeedOperation | None:
        """The hub operation of a subscribe, or None for Strawberry's path."""
        state = getattr(self.context, "state", None)
        if state is None or (variables is not None and not isinstance(variables, dict)):
            return None
        hub = hub_of(state, self.schema)
        found = self._route(state, hub, query, name)
        if found is None:
            return None
        document, seat = found
        if self.writer is None:
            settings = state.settings
            self.writer = SocketWriter(
                self.websocket.ws, settings.subscription_send_queue, settings.slow_consumer_seconds
            )
        name = name if isinstance(name, str) else None  # ``find`` took no other
        return FeedOperation(
            hub, document, operation_id, kind, variables, name, self.context, self.writer, seat
        )

    def _route(
        self, state: AppState, hub: FeedHub, query: object, name: object
    ) -> tuple[FeedDocument, type[Seat]] | None:
        for route in self.routes:
            document = route.documents(state, hub).find(query, name)
            if document is not None:
                return document, route.seat
        return None

    def send_complete(self, operation_id: str) -> None:
        """Queue ``complete`` after the operation's frames."""
        if self.writer is not None:
            encoded = orjson.dumps({"id": operation_id, "type": "complete"}).decode()
            self.writer.send(encoded)

    def stop_writer(self) -> None:
        if self.writer is not None:
            self.writer.stop()


class FeedTransportWSHandler(_FeedRouting, BaseGraphQLTransportWSHandler):
    """graphql-transport-ws with shared feeds."""

    async def run_operation(self, operation: Operation) -> None:
        feed = self.feed_operation(
            operation.id, operation.query, operation.variables, operation.operation_name, "next"
        )
        if feed is None:
            return await super().run_operation(operation)
        try:
            result = await run_feed_operation(feed)
            if result is None:
                self._complete_queued(operation)
            elif isinstance(result, PreExecutionError):
                await self._handle_pre_execution_error(operation, result)
            else:
                await operation.send_next(result)
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except _OperationStreamClosed:
            return None
        except Exception as error:
            await self.handle_task_exception(error)
            self._complete_queued(operation)
            raise

    def _complete_queued(self, operation: Operation) -> None:
        if operation.completed:
            return
        operation.completed = True
        self.operations.pop(operation.id, None)
        self.send_complete(operation.id)

    async def shutdown(self) -> None:
        await super().shutdown()
        self.stop_writer()


class FeedGraphQLWSHandler(_FeedRouting, BaseGraphQLWSHandler):
    """The legacy graphql-ws protocol with shared feeds."""

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        feed = self.feed_operation(operation_id, query, variables, operation_name, "data")
        if feed is None:
            return await super().handle_async_results(
                operation_id, query, operation_name, variables
            )
        try:
            result = await run_feed_operation(feed)
            if result is None:
                self.send_complete(operation_id)
            elif isinstance(result, PreExecutionError):
                assert result.errors
                payload = result.errors[0].formatted
                await self.send_message({"type": "error", "id": operation_id, "payload": payload})
            else:
                await self.send_data_message(result, operation_id)
                await self.send_message({"type": "complete", "id": operation_id})
        except asyncio.CancelledError:
            self.send_complete(operation_id)
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)

    async def cleanup(self) -> None:
        await super().cleanup()
        self.stop_writer()
