from typing import Annotated

from fastapi import APIRouter, Query

from services.placenames.changes import service
from services.placenames.changes.auth import ChangesReader
from services.placenames.changes.schemas import FeedChange, FeedPage
from shared.db import Session
from shared.errors import problem_responses

router = APIRouter(tags=["changes 变更"])


@router.get(
    "/changes",
    response_model=FeedPage,
    summary="Follow the change feed (地名地址变更)",
    description="Every change of the registry in the order it committed: addresses renamed, moved, split, merged, "
    "retired or issued; names renamed, unified, rectified or retired; door plates; divisions renamed, merged, "
    "moved or retired (the 2016 adjustment: 江东区 into 鄞州区, towns moved to 海曙区). The services that store "
    "addresses and the partner departments (一址通) read it with their client credentials "
    "(`placenames.changes:read`).\n\n"
    "A reader keeps its cursor, the `seq` of the last change it applied, in its own database, in the same "
    "transaction as what it applied, and asks for `after=<cursor>` (0 at first). Delivery is at least once: a "
    "reader that stopped before storing its cursor is served the same changes again, and applying a change "
    "twice has the effect of applying it once. A cursor beyond the last change was never issued (400 "
    "`/problems/cursor-not-issued`); one older than the changes kept is a 410 (`/problems/cursor-expired`): "
    "resynchronise from the registry, then follow from `last_seq`.",
    responses=problem_responses(400, 401, 403, 410, 422),
)
async def list_changes(
    session: Session,
    _: ChangesReader,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="The seq of the last change already applied; 0 for the start")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Changes per page (1–1000)")] = 100,
) -> FeedPage:
    changes, last_seq = await service.page(session, after, limit)
    return FeedPage(
        changes=[FeedChange.model_validate(c) for c in changes],
        next_after=changes[-1].seq if changes else after,
        last_seq=last_seq,
    )
