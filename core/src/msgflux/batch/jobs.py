"""A resumable batch over files: what ``msgflux batch`` runs.

``run_file(input, output, ...)`` reads an OpenAI Batch input file, skips every
``custom_id`` the output file already answers, runs the rest through ``abatch`` and
appends one output line per answer as soon as it arrives. Rerun the same command after a
crash or Ctrl-C and only the missing ``custom_id`` s are sent: nothing already answered is
lost or sent twice.

Durability: each line goes to the file in one ``write(2)`` when its answer arrives, so a
killed process loses nothing it answered; the file is ``fsync``'d every half second and at
the end, so even a machine crash loses at most the last half second's answers (which a
rerun sends again). A line cut short (a crash mid-write) is detected and removed on the
next run. While a run writes to an output file it holds a lock on it: a second run on the
same file stops with an error instead of mixing lines.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msgflux.batch._runner import abatch
from msgflux.batch.openai_files import (
    BatchRequest,
    FileFormatError,
    output_line,
    parse_request,
    to_call,
)
from msgflux.errors import MsgfluxError

__all__ = ["JobSummary", "OutputLockedError", "run_file"]

_SYNC_EVERY = 0.5  # seconds between fsyncs of the output


class OutputLockedError(MsgfluxError):
    """Another run is writing to the same output file."""


@dataclass(slots=True)
class JobSummary:
    """What a run did.

    Attributes:
        total: Requests in the input file.
        already_done: Requests the output answered before this run.
        done: Requests answered by this run (successes and errors).
        failed: Of those, the ones whose line is an error.
        rate_limited: 429s met and retried.
        prompt_tokens: Prompt tokens of this run's answers.
        completion_tokens: Completion tokens of this run's answers.
        cost: USD of this run's answers, from the models' profiles (``None`` when no
            price is known for some answered model).
        elapsed: Seconds.
        models: The models this run used (a gateway's: its deployments' models).
        deployments: Through a gateway: answers of this run per deployment.
    """

    total: int = 0
    already_done: int = 0
    done: int = 0
    failed: int = 0
    rate_limited: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = 0.0
    elapsed: float = 0.0
    models: list[str] = field(default_factory=list)
    deployments: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Job:
    request: BatchRequest
    model: str  # "provider/model", or "" when a gateway routes it
    messages: list[Any]
    kwargs: dict[str, Any]


def run_file(
    input_path: str | Path,
    output_path: str | Path,
    *,
    model: str | None = None,
    model_options: dict[str, Any] | None = None,
    gateway: Any = None,
    retry_failed: bool = False,
    max_concurrency: int = 64,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    progress: bool | None = None,
    on_start: Callable[[JobSummary], None] | None = None,
) -> JobSummary:
    """Run the requests of ``input_path`` the output does not answer yet (see module doc).

    Args:
        input_path: An OpenAI Batch input file (JSONL).
        output_path: The output file (OpenAI Batch output format); created if missing,
            appended to otherwise.
        model: ``"provider/model"`` for every request; ``None``: each body's ``model``,
            which must then be ``"provider/model"``.
        model_options: Options for the model(s) (``base_url``, ``api_key``, ``timeout``...).
        gateway: A ``ModelGateway`` that answers every request instead (``model`` and
            ``model_options`` are then not used, nor is each body's ``model``); it stays
            open: it is the caller's.
        retry_failed: Send again the requests whose output line is an error (their lines
            are removed first).
        max_concurrency: Most requests in flight.
        requests_per_minute: A request budget.
        tokens_per_minute: A token budget.
        progress: Draw a progress bar on stderr (``None``: when it is a terminal).
        on_start: Called with the summary (total, already done) before sending anything.

    Raises:
        FileFormatError: A bad input line (the message names it), or a torn line that is
            not the last of the output.
        OutputLockedError: Another run holds the output file.
    """
    if gateway is not None and (model is not None or model_options):
        raise ValueError("run_file takes a gateway or a model (with its options), not both")
    jobs = _read_jobs(Path(input_path), model, routed=gateway is not None)
    summary = JobSummary(total=len(jobs))
    started = time.monotonic()
    with _Output(Path(output_path)) as output:
        if retry_failed:
            output.drop_failed()
        pending = [job for job in jobs if job.request.custom_id not in output.answered]
        summary.already_done = len(jobs) - len(pending)
        if on_start is not None:
            on_start(summary)
        if pending:
            limits = {
                "max_concurrency": max_concurrency,
                "requests_per_minute": requests_per_minute,
                "tokens_per_minute": tokens_per_minute,
                "progress": progress,
            }
            target = _Models(pending, model_options or {}) if gateway is None else _Gateway(gateway)
            try:
                _run(pending, output, summary, target, limits)
            finally:
                target.close()
    summary.elapsed = time.monotonic() - started
    return summary


def _read_jobs(path: Path, model: str | None, *, routed: bool) -> list[_Job]:
    jobs: list[_Job] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            request = parse_request(text, number)
            if request.custom_id in seen:
                raise FileFormatError(
                    f"line {number}: custom_id {request.custom_id!r} is already used on line "
                    f"{seen[request.custom_id]}; custom_ids must be unique"
                )
            seen[request.custom_id] = number
            jobs.append(_job(request, model, routed))
    return jobs


def _job(request: BatchRequest, model: str | None, routed: bool) -> _Job:
    try:
        body_model, messages, kwargs = to_call(request.body)
    except (TypeError, ValueError) as exc:
        raise FileFormatError(f"line {request.line} ({request.custom_id}): {exc}") from None
    if routed:  # a gateway chooses the model
        return _Job(request, "", messages, kwargs)
    chosen = model or body_model
    if not chosen or "/" not in chosen:
        raise FileFormatError(
            f"line {request.line} ({request.custom_id}): body.model {body_model!r} names no "
            "provider: pass -m PROVIDER/MODEL, or write 'provider/model' in the file"
        )
    return _Job(request, chosen, messages, kwargs)


def _run(
    pending: list[_Job],
    output: _Output,
    summary: JobSummary,
    target: _Models | _Gateway,
    limits: dict[str, Any],
) -> None:
    summary.models = target.models()

    async def call(messages: Any, job: int, **kwargs: Any) -> Any:
        return await target.acall(pending[job], messages, kwargs)

    def record(item: Any) -> None:
        job = pending[item.index]
        answered_by, source = target.answered_by(job, item.response)
        line = output_line(job.request.custom_id, answered_by, item.response, item.error)
        output.write(line)
        summary.done += 1
        summary.failed += item.error is not None
        summary.rate_limited += item.rate_limited
        if item.error is None:
            usage = item.usage
            summary.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            summary.completion_tokens += int(usage.get("completion_tokens") or 0)
            summary.cost = target.prices.add(summary.cost, source, usage)
            if isinstance(target, _Gateway):
                summary.deployments[source] = summary.deployments.get(source, 0) + 1

    inputs = [
        {"messages": job.messages, "job": index, **job.kwargs} for index, job in enumerate(pending)
    ]
    asyncio.run(abatch(call, inputs, on_result=record, **limits))


class _Models:
    """What answers without a gateway: each request's ``provider/model``, built once each."""

    def __init__(self, pending: list[_Job], options: dict[str, Any]) -> None:
        import msgflux as mf

        paths = dict.fromkeys(job.model for job in pending)
        self._built = {path: mf.Model.chat_completion(path, **options) for path in paths}
        self.prices = _Prices(self._built)

    def models(self) -> list[str]:
        return sorted(self._built)

    async def acall(self, job: _Job, messages: Any, kwargs: dict[str, Any]) -> Any:
        return await self._built[job.model].acall(messages, **kwargs)

    def answered_by(self, job: _Job, response: Any) -> tuple[str, str]:
        """``(body.model of the answer: the model id at the provider, its price key)``."""
        return job.model.partition("/")[2], job.model

    def close(self) -> None:
        for built in self._built.values():
            built.close()


class _Gateway:
    """What answers through a gateway: the deployment it chose for each request."""

    def __init__(self, gateway: Any) -> None:
        self._gateway = gateway
        self.prices = _Prices({d.name: d.model for d in gateway.deployments})

    def models(self) -> list[str]:
        return sorted({d.model_path for d in self._gateway.deployments})

    async def acall(self, job: _Job, messages: Any, kwargs: dict[str, Any]) -> Any:
        return await self._gateway.acall(messages, **kwargs)

    def answered_by(self, job: _Job, response: Any) -> tuple[str, str]:
        """``(body.model of the answer: the answering deployment's model id, deployment)``."""
        if response is None:  # an error: no deployment answered it
            return "", ""
        routed = response.metadata.gateway
        return routed.model.partition("/")[2], routed.deployment

    def close(self) -> None:
        """The gateway is the caller's: left open."""


class _Prices:
    """Each model's prices from its profile, to add up what a run cost."""

    def __init__(self, models: dict[str, Any]) -> None:
        self._costs: dict[str, Any] = {}
        for key, built in models.items():
            cost = getattr(getattr(built, "profile", None), "cost", None)
            if cost is not None and cost.input_per_million is not None:
                self._costs[key] = cost

    def add(self, total: float | None, key: str, usage: dict[str, Any]) -> float | None:
        cost = self._costs.get(key)
        if total is None or cost is None or not usage:
            return None
        try:
            added = float(cost.calculate_from_usage(usage))
        except ValueError:
            return None
        return total + added


# -- the output file ---------------------------------------------------------------------------


class _Output:
    """The output file: what it answers already, locked while this run appends to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.answered: set[str] = set()
        self._failed: set[str] = set()
        self._fd = -1
        self._dirty = False
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> _Output:
        self._fd = self._open_locked(self.path)
        self._read_answered()
        self._syncer = threading.Thread(target=self._sync_loop, name="msgflux-batch-fsync")
        self._syncer.daemon = True
        self._syncer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join()
        os.fsync(self._fd)
        os.close(self._fd)

    @staticmethod
    def _open_locked(path: Path) -> int:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLockedError(
                f"{path} is being written by another msgflux batch run; wait for it to end "
                "(or choose another output file)"
            ) from None
        return fd

    def _read_answered(self) -> None:
        with open(self.path, "rb") as existing:
            data = existing.read()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):  # a line cut short by a crash: its request is sent again
            os.ftruncate(self._fd, complete)
        for number, raw in enumerate(data[:complete].splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                custom_id = line["custom_id"]
            except (ValueError, KeyError, TypeError):
                raise FileFormatError(
                    f"{self.path}, line {number}: not an output line of a batch run; is this "
                    "the right output file?"
                ) from None
            self.answered.add(custom_id)
            if _is_failure(line):
                self._failed.add(custom_id)

    def drop_failed(self) -> None:
        """Remove the error lines, so that their requests are sent again."""
        if not self._failed:
            return
        with open(self.path, "rb") as existing:
            kept = [
                raw
                for raw in existing.read().splitlines(keepends=True)
                if raw.strip() and json.loads(raw)["custom_id"] not in self._failed
            ]
        temporary = self.path.with_name(f".{self.path.name}.rewrite")
        with open(temporary, "wb") as rewritten:
            rewritten.writelines(kept)
            rewritten.flush()
            os.fsync(rewritten.fileno())
        new_fd = self._open_locked_replacement(temporary)
        os.close(self._fd)
        self._fd = new_fd
        self.answered -= self._failed
        self._failed.clear()

    def _open_locked_replacement(self, temporary: Path) -> int:
        os.replace(temporary, self.path)
        return self._open_locked(self.path)

    def write(self, line: dict[str, Any]) -> None:
        """Append one line (one ``write(2)``); it is ``fsync``'d within half a second."""
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
        with self._lock:
            written = os.write(self._fd, data)
            while written < len(data):  # a short write (a full disk raises instead)
                written += os.write(self._fd, data[written:])
            self._dirty = True

    def _sync_loop(self) -> None:
        while not self._stop.wait(_SYNC_EVERY):
            with self._lock:
                dirty, self._dirty = self._dirty, False
            if dirty:
                os.fsync(self._fd)


def _is_failure(line: dict[str, Any]) -> bool:
    if line.get("error"):
        return True
    response = line.get("response") or {}
    return response.get("status_code") != 200
