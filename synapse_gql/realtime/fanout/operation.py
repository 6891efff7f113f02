"""A subscribe served by the hub, inside the schema's own operation lifecycle.

The schema's extensions run for each subscriber as they do on Strawberry's path (limits,
cost, input checks, trusted documents, rate limits, metrics, error masking); parse and
validation are the schema's document cache's (once per text, shared with queries), and
the extensions' hooks are prepared once per extension class (``hooks``). Instead of
graphql-core's ``subscribe``, the subscriber then takes its seat (``seat``): it passes
the access check and joins its group (an answer's feed with :class:`AnswerSeat`: one
query, see below). A refusal before that is returned as the result Strawberry would have
produced, for the protocol handler to send.

The set-up (the extensions' checks at execution, the access check, joining the group) runs
in an admission slot (``realtime.admission``): a bounded number at once, the rest queued;
identical access checks waiting at the same time share one query (``checks``).

:func:`run_feed_operation` follows ``strawberry.Schema._stream`` (0.341) step by step and
uses its helpers, so a refused subscribe answers exactly as on Strawberry's path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import _coerce_error, _coerce_pre_execution_error
from strawberry.types.execution import ExecutionContext, ExecutionResult, PreExecutionError
from strawberry.types.graphql import OperationType

from synapse_gql.chat.subscriptions import readable_answer
from synapse_gql.errors import TryAgain
from synapse_gql.gql.extension_hooks import hooks_runner
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import Message
from synapse_gql.realtime.admission import subscribe_slot
from synapse_gql.realtime.fanout.documents import FeedDocument
from synapse_gql.realtime.fanout.feed import AnswerFeed
from synapse_gql.realtime.fanout.hub import FeedHub
from synapse_gql.realtime.fanout.payloads import VariablesRefused
from synapse_gql.realtime.fanout.seat import Seat
from synapse_gql.realtime.fanout.subscriber import Subscriber
from synapse_gql.realtime.fanout.writer import SocketWriter

SUBSCRIPTION_ONLY = (OperationType.SUBSCRIPTION,)


@dataclass
class FeedOperation:
    """One subscribe of a protocol handler that goes to the hub; ``seat`` places its
    subscriber in its group (an answer's feed, a metrics group)."""

    hub: FeedHub
    document: FeedDocument
    operation_id: str
    message_type: str
    variables: dict[str, Any] | None
    operation_name: str | None
    context: Any
    writer: SocketWriter
    seat: type[Seat]


async def run_feed_operation(operation: FeedOperation) -> ExecutionResult | None:
    """Serve ``operation`` until its subscriber is done (None), or return the result
    that refuses it (a ``PreExecutionError`` or an errors-only result)."""
    schema = operation.hub.schema
    execution = schema._create_execution_context(
        query=operation.document.text,
        allowed_operation_types=SUBSCRIPTION_ONLY,
        variable_values=operation.variables,
        context_value=operation.context,
        operation_name=operation.operation_name,
    )
    extensions = schema.get_extensions()
    for extension in extensions:
        extension.execution_context = execution
    runner = hooks_runner(execution, extensions)  # Strawberry's, its hooks cached
    async with runner.operation():
        result = await _prepare(operation, execution, runner)
        if result is None:
            result = await _serve(operation, execution, runner)
        if result is not None:
            async with runner.on_stream_result(result):
                pass
    return result


async def _prepare(
    operation: FeedOperation, execution: ExecutionContext, runner: Any
) -> ExecutionResult | None:
    schema = operation.hub.schema
    try:
        refused = await schema._prepare_operation_async(execution, runner)
    except (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError) as error:
        refused = PreExecutionError(data=None, errors=[_coerce_pre_execution_error(error)])
    if refused is None:
        return None
    refused.extensions = await runner.get_extensions_results(execution)
    return await schema._handle_execution_result(execution, refused, runner)


async def _serve(
    operation: FeedOperation, execution: ExecutionContext, runner: Any
) -> ExecutionResult | None:
    schema = operation.hub.schema
    seat = operation.seat(operation)
    try:
        try:
            async with subscribe_slot(operation.hub.state), runner.executing():
                await seat.join()
        except TryAgain as busy:  # the admission queue is full, or the set-up too slow
            await seat.refuse(busy)
    except VariablesRefused as refused:
        failed: Any = PreExecutionError(data=None, errors=refused.errors)
        return await schema._handle_execution_result(execution, failed, runner)
    except Exception as error:
        failed = GraphQLExecutionResult(data=None, errors=[_coerce_error(error)])
        return await schema._handle_execution_result(execution, failed, runner)
    try:
        assert seat.subscriber is not None
        await seat.subscriber.done.wait()
    finally:
        seat.leave()
    return None


class AnswerSeat(Seat):
    """A subscriber's place in the hub: its answer's feed group and its viewer's access
    watch."""

    def __init__(self, operation: FeedOperation) -> None:
        super().__init__(operation)
        self._feed: AnswerFeed | None = None

    def start_after(self) -> int:
        return int(self.arguments.get("afterSequence") or 0)

    def access_check(self) -> Callable[[], Awaitable[Message]]:
        raw_id = self.arguments.get("messageId")
        return partial(_shared_check, self.hub, self.operation.context, raw_id)

    def enter_group(self, checked: Message, subscriber: Subscriber) -> None:
        self._feed = self.hub.feed(checked.id)
        self._feed.join(self.key, executor=subscriber.executor, subscriber=subscriber)

    def leave_group(self, subscriber: Subscriber) -> None:
        if self._feed is not None:
            self._feed.leave(self.key, subscriber)
            self._feed = None


async def _shared_check(hub: FeedHub, context: Any, raw_id: Any) -> Message:
    """The subscription's access check (the answer, readable by the viewer), shared with
    the same viewer's identical checks waiting at the same time (and, passed, reused while
    the viewer hears no access news: ``checks``)."""
    viewer = context.require_viewer()
    key = (viewer.id, viewer.via, "messageStream", raw_id)
    epoch = partial(hub.watches.epoch, viewer.id)
    return await hub.checks.run(key, partial(_readable, context, raw_id), epoch)


async def _readable(context: Any, raw_id: Any) -> Message:
    return await readable_answer(context, decode_id(raw_id, "Message", field=["messageId"]))
