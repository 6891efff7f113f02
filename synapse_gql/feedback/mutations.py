"""Feedback mutations: rate a message (once per user, updated in place) and take it back."""

from __future__ import annotations

from typing import Annotated

import strawberry

from synapse_gql.context import Info
from synapse_gql.feedback import service
from synapse_gql.feedback.types import FeedbackType, RateMessageInput
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id, to_global_id
from synapse_gql.workspaces.mutations import Deleted, DeleteResult

FeedbackResult = Annotated[FeedbackType | UserError, strawberry.union("FeedbackResult")]


def _rating(input: RateMessageInput) -> service.Rating:
    return service.Rating(
        rating_type=input.rating_type,
        value=input.value,
        scale_max=input.scale_max,
        category=input.category,
        comment=input.comment,
        improvement_suggestion=input.improvement_suggestion,
        is_public=input.is_public,
    )


@strawberry.type
class FeedbackMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Rate a message you can read; rating again replaces your rating.",
    )
    async def rate_message(self, info: Info, input: RateMessageInput) -> FeedbackResult:
        viewer = info.context.require_viewer()
        message_id = decode_id(input.message_id, "Message", field=["input", "messageId"])
        async with info.context.state.db.transaction() as session:
            row = await service.rate_message(session, viewer.id, message_id, _rating(input))
        return FeedbackType.from_row(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Delete your rating of a message; returns the deleted feedback's ID.",
    )
    async def delete_feedback(self, info: Info, message_id: strawberry.ID) -> DeleteResult:
        viewer = info.context.require_viewer()
        db_id = decode_id(message_id, "Message", field=["messageId"])
        async with info.context.state.db.transaction() as session:
            deleted = await service.delete_feedback(session, viewer.id, db_id)
        return Deleted(id=to_global_id("MessageFeedback", deleted))
