from fastapi import APIRouter, Request, Response

from services.placenames import gazetteer
from services.placenames.parsing import pool, schemas, service
from services.placenames.parsing.auth import ParseUser
from services.placenames.parsing.schemas import (
    MAX_BATCH,
    MAX_TEXT,
    ParseIn,
    ParseOut,
    ParsesIn,
    ParsesOut,
)
from shared.db import Session
from shared.errors import InvalidInput, problem_responses

router = APIRouter(tags=["parsing 地址解析"])


@router.post(
    "/parse",
    response_model=ParseOut,
    summary="Parse a free-text address and match it",
    description="地址解析与匹配: splits the text into province, city, district (区县市), township (乡镇街道), "
    "community (村社区), road, house number (门牌号), residential area (小区), building (幢), unit "
    "(单元), floor and room (室), each with the span it came from, normalised (Chinese and "
    "full-width numerals, 12-3-1001 = 12幢3单元1001室, 号楼/栋/幢, missing province or city, old "
    "and alias names → today's names); then matches a standard address with a confidence and "
    "the reasons, or ranks candidates when the text is ambiguous. A road written that is not "
    "recorded (天同南路, 中山西陆, 天童南) is never replaced: `road_suggestions` ranks the nearest "
    "recorded roads, each with its reason (same sound 同音, similar sound 近音, one character "
    "wrong, left out or too many), for the caller to choose and parse again.",
    responses=problem_responses(401, 403, 422),
)
async def parse_one(data: ParseIn, request: Request, session: Session, _: ParseUser) -> ParseOut:
    gaz = await gazetteer.current(request.app, session)
    return await service.parse_and_match(session, gaz, data.text)


@router.post(
    "/parses",
    response_model=ParsesOut,
    summary="Parse and match up to 1,000 addresses",
    description=f"The same as `/parse` for 1–{MAX_BATCH} texts at once; results in the same order. A text "
    f"longer than {MAX_TEXT} characters or empty is refused by its index (`texts.N`); texts of "
    f"more than {schemas.MAX_BATCH_CHARS:,} characters in all are refused (`texts`): split them into "
    "several requests, or upload them as a batch standardisation (批量标准化).",
    responses=problem_responses(401, 403, 422),
)
async def parse_many(data: ParsesIn, request: Request, _: ParseUser) -> ParsesOut:
    for index, text in enumerate(data.texts):
        if not 1 <= len(text) <= MAX_TEXT:
            raise InvalidInput(f"texts.{index}", "must be 1 to {MAX_TEXT} characters", MAX_TEXT=MAX_TEXT)
    if (total := sum(map(len, data.texts))) > schemas.MAX_BATCH_CHARS:
        raise InvalidInput(
            "texts",
            "{total} characters in all; at most {max_batch_chars} per request",
            total=format(total, ","),
            max_batch_chars=format(schemas.MAX_BATCH_CHARS, ","),
        )
    # Parsed in worker processes, looked up in short transactions (parsing/pool.py); the response comes back as
    # JSON, not built here.
    return Response(await pool.parse_and_match(request.app, data.texts), media_type="application/json")
