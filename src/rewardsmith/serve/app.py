"""The ASGI app of one server worker process: endpoints, middlewares and lifecycle.

Each uvicorn worker builds its own app with `create_app_from_env` (the launcher passes
the settings through the environment) and loads its own Reward, so workers share
nothing but the listening socket, the metrics directory and the launcher's shared
directory (the step set by `POST /step`, and with `--group-size` the gathering mailbox,
so that one-sample requests of one group meet whichever worker each lands on). Scoring
runs on the worker's scoring loop (serve/scoring.py), off the event loop that answers
requests, and a worker started by the launcher dies with it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.types import DecoratedCallable
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.responses import Response

from rewardsmith.adapters.gather import Gatherer
from rewardsmith.adapters.openrlhf import ascore_openrlhf_with_scores
from rewardsmith.core.lifecycle import die_with_parent
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Score
from rewardsmith.report import monitor
from rewardsmith.serve import errors
from rewardsmith.serve.auth import BearerAuthMiddleware
from rewardsmith.serve.body import read_json
from rewardsmith.serve.limits import Admission, LimitsMiddleware, deadline_of
from rewardsmith.serve.metrics import Metrics, MetricsMiddleware
from rewardsmith.serve.models import (
    GetRewardRequest,
    GetRewardResponse,
    Health,
    SampleIn,
    ScoreOut,
    ScoreRequest,
    ScoreResponse,
    StepBody,
)
from rewardsmith.serve.readiness import RewardSlot
from rewardsmith.serve.scoring import ScoringLoop
from rewardsmith.serve.settings import ServerSettings
from rewardsmith.serve.step import StepBoard

PROBES = frozenset({"/healthz", "/readyz"})
SCORING = frozenset({"/get_reward", "/v1/score"})
SCORING_ERRORS = (400, 408, 413, 415, 422, 429, 503, 504)
REQUEST_MODELS: tuple[type[BaseModel], ...] = (GetRewardRequest, ScoreRequest)


def create_app_from_env() -> FastAPI:
    """The app of a worker started by `rewardsmith serve` (uvicorn factory)."""
    settings = ServerSettings.from_env()
    if settings.launcher not in (None, os.getpid()):  # a worker process of the launcher
        die_with_parent(settings.launcher)
    return create_app(settings)


def create_app(settings: ServerSettings) -> FastAPI:
    """A reward server app for `settings`; the reward loads once the app starts."""
    slot = RewardSlot(settings.reward, settings.check_workers)
    scoring = ScoringLoop()
    metrics = Metrics()
    steps = StepBoard(settings.shared_dir)
    gatherer = None if settings.gather is None else Gatherer(settings.gather)
    token = settings.token()
    auth = (401,) if token is not None else ()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scoring.start()
        slot.start()
        yield
        await slot.close()
        await asyncio.to_thread(scoring.stop)
        metrics.worker_exit()

    app = FastAPI(
        title="rewardsmith",
        summary=f"Rewards from `{settings.reward}` over HTTP.",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)

    def scoring_endpoint(
        path: str, request: type[BaseModel], response: type[BaseModel], summary: str
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """A POST endpoint that scores: its handler reads the `request` body itself
        (strictly), and it documents every error a scoring request can get."""
        return app.post(
            path,
            response_model=response,
            responses=errors.documented(*SCORING_ERRORS, *auth),
            openapi_extra=_json_body(request),
            summary=summary,
        )

    @scoring_endpoint(
        "/get_reward", GetRewardRequest, GetRewardResponse, "OpenRLHF remote reward model"
    )
    async def get_reward(request: Request) -> Response:
        """Rewards for an OpenRLHF batch (`--remote_rm_url http://host:port/get_reward`).

        Each response is the part of its query after its prompt; `labels` are the
        references (any JSON value). `extra_logs` holds every named component and
        `status_ok` (0.0 for a sample that could not be scored and got its fallback
        reward). The training step comes from `step`, the `X-Rewardsmith-Step` header,
        `POST /step` or `$REWARDSMITH_STEP`, in that order. With `--group-size`, each
        sample waits for the rest of its group (same prompt) and is scored with it.
        """
        reward = slot.get()
        body = await read_json(request, GetRewardRequest)
        step = steps.resolve(body.step, request.headers)
        work = _openrlhf(reward, body, step, gatherer, metrics, settings.health)
        return await deadline_of(request.scope).run(scoring.run(work))

    @scoring_endpoint("/v1/score", ScoreRequest, ScoreResponse, "Score a batch of samples")
    async def score(request: Request) -> Response:
        """One score per sample, in order: reward, status, components, dense rewards and
        info. Samples are grouped by `group_id` (else prompt), as the reward's group-level
        parts need; a sample that cannot be scored gets its status and the rest are scored.
        Samples without `meta.step` get the request's step (as for /get_reward); with
        `--group-size`, samples are gathered with other requests' into groups.
        """
        reward = slot.get()
        body = await read_json(request, ScoreRequest)
        step = steps.resolve(body.step, request.headers)
        work = _native(reward, body, step, gatherer, metrics, settings.health)
        return await deadline_of(request.scope).run(scoring.run(work))

    @app.post(
        "/step",
        response_model=StepBody,
        responses=errors.documented(400, 415, 422, *auth),
        openapi_extra=_json_body(StepBody),
        summary="Set the training step",
    )
    async def set_step(request: Request) -> StepBody:
        """The training step for requests that carry none (no `step` field or
        `X-Rewardsmith-Step` header), for every worker, until set again."""
        body = await read_json(request, StepBody)
        await asyncio.to_thread(steps.set, body.step)
        return body

    @app.get("/healthz", response_model=Health, summary="Liveness")
    async def healthz() -> Health:
        """200 while the worker's event loop answers."""
        return Health(status="ok")

    @app.get(
        "/readyz", response_model=Health, responses=errors.documented(503), summary="Readiness"
    )
    async def readyz() -> Health:
        """200 once the reward is loaded and warmed up, 503 before."""
        slot.get()
        return Health(status="ready")

    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            **errors.documented(*auth),
        },
        summary="Prometheus metrics",
    )
    async def prometheus() -> Response:
        """All workers' metrics in the Prometheus text format."""
        return Response(metrics.exposition(), media_type=metrics.content_type)

    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    app.add_middleware(
        LimitsMiddleware,
        admission=Admission(settings.max_queue, metrics.queue_depth.set),
        admitted_paths=SCORING,
        max_body_bytes=settings.max_body_bytes,
        deadline_seconds=settings.deadline_seconds,
    )
    if token is not None:
        app.add_middleware(BearerAuthMiddleware, token=token, open_paths=PROBES)
    endpoints = frozenset(route.path for route in app.routes)  # type: ignore[attr-defined]
    app.add_middleware(MetricsMiddleware, metrics=metrics, endpoints=endpoints)
    return app


async def _openrlhf(
    reward: Reward,
    body: GetRewardRequest,
    step: int | None,
    gatherer: Gatherer | None,
    metrics: Metrics,
    health: bool = False,
) -> Response:
    """Score an OpenRLHF batch and render the answer (on the scoring loop)."""
    answer, scores = await ascore_openrlhf_with_scores(
        reward, body.query, body.prompts, body.labels, step=step, gatherer=gatherer
    )
    metrics.observe_scores(scores)
    if health:
        responses = [
            q[len(p) :] if q.startswith(p) else q
            for q, p in zip(body.query, body.prompts, strict=False)
        ]
        _record_health(reward, metrics, responses, list(body.prompts), step or 0, scores)
    return _rendered(GetRewardResponse.model_validate(answer))


async def _native(
    reward: Reward,
    body: ScoreRequest,
    step: int | None,
    gatherer: Gatherer | None,
    metrics: Metrics,
    health: bool = False,
) -> Response:
    """Score a native batch and render the answer (on the scoring loop)."""
    samples = body.samples
    if step is not None:
        samples = [
            sample if "step" in sample.meta else _stepped(sample, step) for sample in samples
        ]
    scores = await (
        reward.ascore(samples) if gatherer is None else gatherer.ascore(reward, samples)
    )
    metrics.observe_scores(scores)
    if health:
        groups = [s.group_id or s.prompt_text for s in samples]
        step_seen = max((s.step for s in samples), default=0)
        _record_health(reward, metrics, [s.completion for s in samples], groups, step_seen, scores)
    return _rendered(ScoreResponse(scores=[ScoreOut.of(score) for score in scores]))


def _record_health(
    reward: Reward,
    metrics: Metrics,
    completions: list[str],
    groups: list[str],
    step: int,
    scores: list[Score],
) -> None:
    """Add the batch to its step's health counts in the reward's state store, and export
    the step's signals (report/monitor.py)."""
    counts = monitor.batch_counts(completions, groups, scores, reward.root.name)
    store = reward.context.store()
    monitor.record(store, reward.root.name, step, counts)
    current = monitor.recorded(store, reward.root.name, step) or counts
    metrics.observe_health(step, monitor.signals(current))


def _stepped(sample: SampleIn, step: int) -> SampleIn:
    return sample.model_copy(update={"meta": {**sample.meta, "step": step}})


def _rendered(answer: BaseModel) -> Response:
    return Response(answer.model_dump_json(), media_type="application/json")


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint that reads `model` itself (strictly)."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _openapi(app: FastAPI, settings: ServerSettings) -> dict[str, Any]:
    """FastAPI's document, plus the request schemas and, with a token, the bearer scheme
    (required by every endpoint but the probes)."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        _, definitions = models_json_schema(
            [(model, "validation") for model in REQUEST_MODELS],
            ref_template="#/components/schemas/{model}",
        )
        document["components"]["schemas"].update(definitions["$defs"])
        if settings.token_env is not None:
            _require_bearer(document)
        app.openapi_schema = document
    return app.openapi_schema


def _require_bearer(document: dict[str, Any]) -> None:
    document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, operations in document["paths"].items():
        if path in PROBES:
            continue
        for operation in operations.values():
            operation["security"] = [{"bearer": []}]
