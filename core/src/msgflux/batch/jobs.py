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
        models: The models this run used.
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


@dataclass(slots=True)
class _Job:
    request: BatchRequest
    model: str
    messages: list[Any]
    kwargs: dict[str, Any]


def run_file(
    input_path: str | Path,
    output_path: str | Path,
    *,
    model: str | None = None,
    model_options: dict[str, Any] | None = None,
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
    jobs = _read_jobs(Path(input_path), model)
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
            _run(pending, output, summary, model_options or {}, limits)
    summary.elapsed = time.monotonic() - started
    return summary


def _read_jobs(path: Path, model: str | None) -> list[_Job]:
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
            jobs.append(_job(request, model))
    return jobs


def _job(request: BatchRequest, model: str | None) -> _Job:
    try:
        body_model, messages, kwargs = to_call(request.body)
    except (TypeError, ValueError) as exc:
        raise FileFormatError(f"line {request.line} ({request.custom_id}): {exc}") from None
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
    model_options: dict[str, Any],
    limits: dict[str, Any],
) -> None:
    import msgflux as mf

    models = {path: mf.Model.chat_completion(path, **model_options) for path in _paths(pending)}
    summary.models = sorted(models)
    prices = _Prices(models)

    async def call(messages: Any, model: str, **kwargs: Any) -> Any:
        return await models[model].acall(messages, **kwargs)

    def record(item: Any) -> None:
        job = pending[item.index]
        answered_by = job.model.partition("/")[2]  # the model id at the provider
        line = output_line(job.request.custom_id, answered_by, item.response, item.error)
        output.write(line)
        summary.done += 1
        summary.failed += item.error is not None
        summary.rate_limited += item.rate_limited
        if item.error is None:
            usage = item.usage
            summary.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            summary.completion_tokens += int(usage.get("completion_tokens") or 0)
            summary.cost = prices.add(summary.cost, job.model, usage)

    inputs = [{"messages": job.messages, "model": job.model, **job.kwargs} for job in pending]
    try:
        asyncio.run(abatch(call, inputs, on_result=record, **limits))
    finally:
        for built in models.values():
            built.close()


def _paths(jobs: list[_Job]) -> list[str]:
    return list(dict.fromkeys(job.model for job in jobs))


class _Prices:
    """Each model's prices from its profile, to add up what a run cost."""

    def __init__(self, models: dict[str, Any]) -> None:
        self._costs: dict[str, Any] = {}
        for path, built in models.items():
            profile = built.profile
            cost = getattr(profile, "cost", None)
            if cost is not None and cost.input_per_million is not None:
                self._costs[path] = cost

    def add(self, total: float | None, model: str, usage: dict[str, Any]) -> float | None:
        cost = self._costs.get(model)
        if total is None or cost is None or not usage:
            return None
        try:
            added: float = cost.calculate_from_usage(usage)
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
