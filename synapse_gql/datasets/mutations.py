"""``startFeedbackDatasetExport``: a signed, short-lived link to a public-feedback dataset."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from synapse_gql.context import Info
from synapse_gql.datasets import links, service
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id


@strawberry.input(description="Which public feedback a dataset holds.")
class StartFeedbackDatasetExportInput:
    workspace_id: strawberry.ID
    from_: datetime = strawberry.field(name="from", description="Rated at or after (inclusive).")
    to: datetime = strawberry.field(description="Rated before (exclusive).")
    project_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only conversations of these projects (at most 50)."
    )
    llm_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only answers of these models (at most 50)."
    )


@strawberry.type(
    description="A link to download a dataset: JSON Lines, one rated answer a line with its"
    " conversation context, the answer, the model, the rating (type, value, scale and score"
    " normalised to 0..1), category and suggestion. Only feedback its rater made public."
)
class FeedbackDatasetExport:
    url: str = strawberry.field(
        description="GET it before `expiresAt` (no other credential needed; a bearer token,"
        " when sent, must be the same user's)."
    )
    expires_at: datetime


FeedbackDatasetExportResult = Annotated[
    FeedbackDatasetExport | UserError, strawberry.union("FeedbackDatasetExportResult")
]


def _absolute(info: Info, path: str) -> str:
    request = getattr(info.context, "request", None)
    if request is None:
        return path
    return str(request.base_url).rstrip("/") + path


@strawberry.type
class DatasetMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="A link to the workspace's public feedback as a training dataset (members"
        " and above, as for usage). Feedback that is not public never appears in it.",
    )
    async def start_feedback_dataset_export(
        self, info: Info, input: StartFeedbackDatasetExportInput
    ) -> FeedbackDatasetExportResult:
        viewer = info.context.require_viewer()
        path = ["input", "workspaceId"]
        workspace_id = decode_id(input.workspace_id, "Workspace", field=path)
        project_ids = [
            decode_id(i, "Project", field=["input", "projectIds"]) for i in input.project_ids or []
        ]
        llm_ids = [decode_id(i, "LLM", field=["input", "llmIds"]) for i in input.llm_ids or []]
        async with info.context.sessions() as session:
            wanted = await service.start_export(
                session, viewer.id, workspace_id, (input.from_, input.to), project_ids, llm_ids
            )
        token, expires_at = links.sign(info.context.state.keyring, wanted)
        return FeedbackDatasetExport(
            url=_absolute(info, links.path_of(token)), expires_at=expires_at
        )
