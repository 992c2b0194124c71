"""The HTTP API and the board, as one FastAPI app (OpenAPI page at /docs).

A merged story's ID answers with its survivor: `GET /api/stories/{id}`
returns the surviving story with `resolved_from` (the ID asked for) and
`merge_chain`; `?follow=false` returns the merged story's own last record.
Bad parameters are 400 with an `error` message, unknown IDs 404.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, AsyncIterator, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from replay.times import NoOffset, epoch_seconds
from service.projection import Projector
from service.queries import (
    NotFound,
    StoryFilter,
    article_detail,
    list_stories,
    story_detail,
    trending,
)
from service.search import Searcher
from service.view import View
from taxonomy import Taxonomy

BOARD = Path(__file__).parent / "board"
HEARTBEAT_S = 15.0
POLL_S = 0.25


class MatchRequest(BaseModel):
    title: str = Field(min_length=1, max_length=2000, description="the article's title")
    body: str | None = Field(default=None, max_length=100_000, description="optional summary or body")
    k: int = Field(default=10, ge=1, le=100, description="how many nearest articles to return")


def parse_time(value: str | None, name: str) -> float | None:
    """ISO 8601 (with Z or an offset) or epoch seconds; a 400 otherwise."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return epoch_seconds(value, require_offset=True)
    except NoOffset:
        raise HTTPException(400, f"{name}={value!r} has no time zone: add Z or an offset") from None
    except ValueError:
        raise HTTPException(400, f"{name}={value!r} is not a time: use ISO 8601 (2026-03-01T12:00:00Z) or epoch seconds") from None


def create_app(view: View, searcher: Searcher, projector: Projector, taxonomy: Taxonomy) -> FastAPI:
    app = FastAPI(
        title="storywire story service",
        version="1",
        description="Stories, articles, similar articles, match, trends and a live event stream over "
        "storywire's outputs. A merged story's ID answers with its survivor (`resolved_from`).",
    )
    store = view.store

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": f"bad request: {problems}"}, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc.args[0])}, status_code=404)

    @app.get("/api/stories", summary="Stories, filtered, sorted and paged")
    def stories(
        topic: Annotated[str | None, Query(description="taxonomy code; its descendants match too")] = None,
        entity: Annotated[str | None, Query(description="canonical entity name (case-insensitive)")] = None,
        q: Annotated[str | None, Query(max_length=200, description="text in titles, entities, topics or keywords")] = None,
        since: Annotated[str | None, Query(description="last seen at or after (ISO 8601 or epoch s)")] = None,
        until: Annotated[str | None, Query(description="first seen at or before (ISO 8601 or epoch s)")] = None,
        status: Literal["active", "merged", "retired", "any"] = "active",
        sort: Literal["trending", "recency", "size"] = "trending",
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict:
        codes: tuple[str, ...] = ()
        if topic:
            if topic not in taxonomy:
                raise HTTPException(400, f"topic={topic!r} is not a code of taxonomy {taxonomy.name!r} (storywire taxonomy show)")
            codes = tuple(c.code for c in taxonomy.walk(topic, include_retired=True))
        since_s, until_s = parse_time(since, "since"), parse_time(until, "until")
        if since_s is not None and until_s is not None and since_s > until_s:
            raise HTTPException(400, "since is after until")
        return list_stories(store, StoryFilter(codes, entity, q, since_s, until_s, status, sort, limit, offset))

    @app.get("/api/stories/{story_id}", summary="One story: members, timeline, top entities/topics, lineage")
    def story(story_id: str, follow: bool = True, members: Annotated[int, Query(ge=1, le=2000)] = 200) -> dict:
        return story_detail(store, story_id, follow, members)

    @app.get("/api/articles/{article_id}", summary="One article's latest tags")
    def article(article_id: str) -> dict:
        return article_detail(store, article_id)

    @app.get("/api/articles/{article_id}/similar", summary="Nearest articles in the live window")
    def similar(article_id: str, k: Annotated[int, Query(ge=1, le=100)] = 10) -> dict:
        article_detail(store, article_id)
        vector = view.index.vector(article_id)
        if vector is None:
            raise HTTPException(404, f"article {article_id!r} has no vector in the live window")
        return {"id": article_id, "similar": searcher.similar_to_vector(vector, k, exclude=article_id)}

    @app.post("/api/match", summary="The story a new text would join, with its score, and the nearest articles")
    def match(request: MatchRequest) -> dict:
        if not request.title.strip():
            raise HTTPException(400, "title is blank")
        return searcher.match(request.title, request.body, request.k)

    @app.get("/api/trending/{what}", summary="Entities or topics by velocity against their own baseline")
    def trends(what: Literal["entities", "topics"], limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
        return trending(store, what, limit)

    @app.get("/api/map", summary="2-D projection of the live window's article vectors (UMAP, PCA until it is ready)")
    def window_map() -> dict:
        return projector.points()

    @app.get("/api/health", summary="Counts and the database mode")
    def health() -> dict:
        counts = store.one("SELECT (SELECT COUNT(*) FROM stories WHERE deleted = 0) AS stories, (SELECT COUNT(*) FROM articles) AS articles")
        return {
            "stories": counts["stories"],
            "articles": counts["articles"],
            "indexed_vectors": len(view.index),
            "journal_mode": store.journal_mode(),
            "rejected_records": view.rejected,
        }

    @app.get("/api/events", summary="Server-sent events: one `story` event per story change")
    async def events(
        request: Request,
        after: Annotated[int | None, Query(ge=0, description="resume after this event id (also Last-Event-ID)")] = None,
        max_events: Annotated[int | None, Query(ge=1, description="close after this many events")] = None,
    ) -> StreamingResponse:
        start = after if after is not None else _last_event_id(request, store)
        return StreamingResponse(
            _event_stream(request, view, start, max_events), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    @app.get("/", include_in_schema=False)
    def board() -> FileResponse:
        return FileResponse(BOARD / "index.html")

    app.mount("/board", StaticFiles(directory=BOARD), name="board")
    return app


def _last_event_id(request: Request, store) -> int:
    """Last-Event-ID when the browser reconnects; else start from now (only new changes)."""
    header = request.headers.get("last-event-id")
    if header and header.isdigit():
        return int(header)
    row = store.one("SELECT MAX(seq) AS seq FROM stories")
    return int(row["seq"] or 0) if row else 0


async def _event_stream(request: Request, view: View, after: int, max_events: int | None) -> AsyncIterator[str]:
    sent, generation, idle = 0, -1, 0.0
    yield "retry: 2000\n\n"
    while max_events is None or sent < max_events:
        if await request.is_disconnected():
            return
        if view.generation != generation:
            generation = view.generation
            rows = view.store.query(
                "SELECT id, seq, version, status, merged_into, size, title, deleted FROM stories WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, 500 if max_events is None else max_events - sent),
            )
            for row in rows:
                after = row["seq"]
                body = {k: row[k] for k in ("id", "version", "status", "merged_into", "size", "title")} | {"deleted": bool(row["deleted"])}
                yield f"id: {row['seq']}\nevent: story\ndata: {json.dumps(body)}\n\n"
                sent += 1
            if rows:
                generation = -1  # there may be more than one page
                idle = 0.0
                continue
        await asyncio.sleep(POLL_S)
        idle += POLL_S
        if idle >= HEARTBEAT_S:
            idle = 0.0
            yield ": keep-alive\n\n"
