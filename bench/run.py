"""msgflux vs the raw openai SDK on a loopback server: one command, one interleaved run.

    python bench/run.py                  # full run (about 20 minutes on 2 cores)
    python bench/run.py --quick          # fewer rounds and requests (about 5 minutes)
    python bench/run.py --update-readme  # also write the tables into bench/README.md
    python bench/run.py --sections otel  # the telemetry section alone (see bench/otel.py)

Method (see bench/README.md): the server (bench/server.py) runs in its own process, so the
client's cost is this process's CPU time (``time.process_time``, all of its threads)
divided by the operations done; wall time per operation is reported too. Each workload
runs every contender in turn, in a rotating order, for several rounds; tables show medians
and the ratio ``openai SDK / contender`` (higher is better). Import time and memory are
measured in fresh subprocesses.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import batch as batch_section  # noqa: E402
import cache_hits  # noqa: E402
import contenders as cs  # noqa: E402
import otel  # noqa: E402

MARK_START = "<!-- results:start -->"
MARK_END = "<!-- results:end -->"


# -- server ------------------------------------------------------------------------------------


class Server:
    """bench/server.py in a child process; stopped by closing its stdin."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"bench server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- measuring ---------------------------------------------------------------------------------


class Sample:
    def __init__(self, ops: int, cpu: float, wall: float) -> None:
        self.cpu = cpu / ops * 1e6  # microseconds per operation
        self.wall = wall / ops * 1e6


def _timed(ops: int, run: Callable[[], Any]) -> Sample:
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run()
    return Sample(ops, time.process_time() - cpu0, time.perf_counter() - wall0)


async def _atimed(ops: int, run: Callable[[], Any]) -> Sample:
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await run()
    return Sample(ops, time.process_time() - cpu0, time.perf_counter() - wall0)


class Workload:
    def __init__(self, key: str, title: str, method: str, unit: str) -> None:
        self.key, self.title, self.method, self.unit = key, title, method, unit

    def run(self, c: cs.Contender, loop: asyncio.AbstractEventLoop, size: dict) -> Sample:
        n = size[self.key]
        if self.key == "sync":

            def go() -> None:
                for _ in range(n):
                    c.request()

            return _timed(n, go)
        if self.key == "async":

            async def ago() -> None:
                for _ in range(n):
                    await c.arequest()

            return loop.run_until_complete(_atimed(n, ago))
        if self.key == "async256":
            batches = n

            async def conc() -> None:
                for _ in range(batches):
                    await cs.gather_requests(c, 256)

            return loop.run_until_complete(_atimed(256 * batches, conc))
        if self.key == "stream_sync":

            def st() -> None:
                got = c.stream(n)
                assert got >= n, (c.name, got)

            return _timed(n, st)
        if self.key == "stream_async":

            async def ast() -> None:
                got = await c.astream(n)
                assert got >= n, (c.name, got)

            return loop.run_until_complete(_atimed(n, ast))
        raise ValueError(self.key)


WORKLOADS = [
    Workload("sync", "sync request", "request", "request"),
    Workload("async", "async request (sequential)", "arequest", "request"),
    Workload("async256", "async, 256 concurrent", "arequest", "request"),
    Workload("stream_sync", "stream chunk, sync iteration", "stream", "chunk"),
    Workload("stream_async", "stream chunk, async (`async for` / `consume()`)", "astream", "chunk"),
]

SIZES = {
    "full": {"sync": 500, "async": 500, "async256": 4, "stream_sync": 5000, "stream_async": 5000},
    "quick": {"sync": 150, "async": 150, "async256": 1, "stream_sync": 2000, "stream_async": 2000},
}


def bench_group(
    classes: list[type[cs.Contender]], base_url: str, rounds: int, size: dict, log: Callable
) -> tuple[list[str], dict[str, dict[str, list[Sample]]], dict[str, str]]:
    """Run every workload for every contender of a group, interleaved; return samples."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    opened: list[cs.Contender] = []
    unavailable: dict[str, str] = {}
    for cls in classes:
        c = cls(base_url)
        try:
            c.open()
            for w in WORKLOADS:  # warm-up: connections, imports, caches
                if cs.supports(c, w.method):
                    w.run(c, loop, {k: max(1, v // 10) for k, v in size.items()})
        except Exception as exc:  # e.g. a transport option the model layer lacks yet
            unavailable[c.name] = f"{type(exc).__name__}: {exc}"[:160]
            log(f"  {c.name}: unavailable ({unavailable[c.name]})")
            continue
        opened.append(c)
    samples: dict[str, dict[str, list[Sample]]] = {w.key: {} for w in WORKLOADS}
    for w in WORKLOADS:
        for r in range(rounds):
            order = opened[r % len(opened) :] + opened[: r % len(opened)] if opened else []
            for c in order:
                if not cs.supports(c, w.method):
                    continue
                sample = w.run(c, loop, size)
                samples[w.key].setdefault(c.name, []).append(sample)
        medians = {
            name: statistics.median(s.cpu for s in got) for name, got in samples[w.key].items()
        }
        log(f"  {w.title}: " + ", ".join(f"{n} {v:.1f}us" for n, v in medians.items()))
    for c in opened:
        c.close()
        loop.run_until_complete(c.aclose())
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    return [c.name for c in opened], samples, unavailable


# -- import time and memory (fresh subprocesses) -------------------------------------------------

_IMPORT_CHILD = r"""
import json, sys, time
t = time.perf_counter()
{stmt}
seconds = time.perf_counter() - t
rss = int(open("/proc/self/statm").read().split()[1]) * {page}
print(json.dumps({{"seconds": seconds, "rss": rss, "openai_loaded": "openai" in sys.modules}}))
"""


def _child(stmt: str) -> dict:
    code = _IMPORT_CHILD.format(stmt=stmt, page=os.sysconf("SC_PAGE_SIZE"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_imports(base_url: str, repeats: int, log: Callable) -> dict[str, Any]:
    cases = {
        "python (nothing)": "pass",
        "import openai": "import openai",
        "import msgflux": "import msgflux",
        "import msgflux + fast model": (
            "import msgflux as mf\n"
            f"m = mf.Model.chat_completion('openai/x', base_url={base_url!r}, api_key='k',"
            " transport='fast')"
        ),
    }
    results: dict[str, list[dict]] = {name: [] for name in cases}
    errors: dict[str, str] = {}
    for _ in range(repeats):
        for name, stmt in cases.items():  # interleaved: one of each per repetition
            if name in errors:
                continue
            try:
                results[name].append(_child(stmt))
            except RuntimeError as exc:
                errors[name] = str(exc)[:160]
    summary: dict[str, Any] = {"errors": errors}
    for name, runs in results.items():
        if runs:
            summary[name] = {
                "seconds": statistics.median(r["seconds"] for r in runs),
                "rss": statistics.median(r["rss"] for r in runs),
                "openai_loaded": any(r["openai_loaded"] for r in runs),
            }
    log(
        "  imports: "
        + ", ".join(f"{n} {v['seconds'] * 1000:.1f}ms" for n, v in summary.items() if n != "errors")
    )
    return summary


def _memory_child(kind: str, base_url: str, inflight: int) -> None:
    """Child process: RSS growth while ``inflight`` async requests wait on the server."""
    classes = {c.__name__: c for c in (*cs.MAIN, *cs.HTTP)}
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        return int(open("/proc/self/statm").read().split()[1]) * page

    delayed = base_url.replace("/v1", "/delay-2.0/v1")
    c = classes[kind](delayed)
    c.open()

    async def main() -> dict:
        fast = classes[kind](base_url)
        fast.open()
        for _ in range(3):  # imports and first-use caches, off the clock
            await cs.gather_requests(fast, 16)
        gc.collect()
        before = rss()
        tasks = [asyncio.ensure_future(c.arequest()) for _ in range(inflight)]
        await asyncio.sleep(1.2)  # all sent, none answered (the server waits 2 s)
        during = rss()
        await asyncio.gather(*tasks)
        await fast.aclose()
        await c.aclose()
        return {"before": before, "during": during, "per_request": (during - before) / inflight}

    print(json.dumps(asyncio.run(main())))


def bench_memory(base_url: str, inflight: int, repeats: int, log: Callable) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _ in range(repeats):
        for cls in cs.MAIN:
            name = cls(base_url).name
            proc = subprocess.run(
                [sys.executable, __file__, "--memory-child", cls.__name__, base_url, str(inflight)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                out.setdefault("errors", {})[name] = (proc.stderr.strip().splitlines() or ["?"])[
                    -1
                ][:160]
                continue
            out.setdefault(name, []).append(json.loads(proc.stdout.strip().splitlines()[-1]))
    summary: dict[str, Any] = {"errors": out.pop("errors", {})}
    for name, runs in out.items():
        summary[name] = {
            "per_request": statistics.median(r["per_request"] for r in runs),
            "before": statistics.median(r["before"] for r in runs),
        }
    log(
        "  memory: "
        + ", ".join(
            f"{n} {v['per_request'] / 1024:.1f} KiB" for n, v in summary.items() if n != "errors"
        )
    )
    return summary


# -- report ------------------------------------------------------------------------------------


def _versions() -> str:
    names = [
        "openai",
        "httpx",
        "aiohttp",
        "urllib3",
        "msgspec",
        "msgflux",
        "msgflux-openai",
        "litellm",
    ]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _table(
    names: list[str],
    samples: dict[str, dict[str, list[Sample]]],
    unavailable: dict[str, str],
    field: str,
    baseline: str,
) -> list[str]:
    cols = names + list(unavailable)
    lines = [
        "| workload | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for w in WORKLOADS:
        got = samples.get(w.key, {})
        base = got.get(baseline)
        base_value = statistics.median(getattr(s, field) for s in base) if base else None
        cells = []
        for name in cols:
            if name in unavailable:
                cells.append("n/a")
                continue
            if name not in got:
                cells.append("-")
                continue
            value = statistics.median(getattr(s, field) for s in got[name])
            if base_value and name != baseline:
                cells.append(f"{value:,.1f} (**{base_value / value:.1f}x**)")
            else:
                cells.append(f"{value:,.1f}")
        lines.append(f"| {w.title} (µs/{w.unit}) | " + " | ".join(cells) + " |")
    return lines


def report(results: dict[str, Any]) -> str:
    out = [
        f"Run: {results['date']}, {results['mode']} mode, {results['rounds']} rounds, "
        f"Python {platform.python_version()}, {_cpu_model()}, {os.cpu_count()} cores.  ",
        f"Versions: {_versions()}.",
        "",
    ]
    main = results.get("main")
    if main:
        names, samples, unavailable = main["names"], main["samples"], main["unavailable"]
        out += [
            "**Client CPU time per operation** (median; in parentheses: openai SDK ÷ this, "
            "higher is better):",
            "",
            *_table(names, samples, unavailable, "cpu", "openai SDK"),
            "",
            "**Wall time per operation** (client and server share the machine's 2 cores):",
            "",
            *_table(names, samples, unavailable, "wall", "openai SDK"),
            "",
        ]
        for name, why in unavailable.items():
            out.append(f"- {name}: not measured ({why}).")
        if unavailable:
            out.append("")
    imports = results.get("imports")
    if imports:
        base = imports.get("python (nothing)", {})
        opena = imports.get("import openai", {})
        out += [
            "**Import time and memory** (fresh interpreter per sample, median):",
            "",
            "| what | time (ms) | vs `import openai` | RSS after (MiB) | RSS added (MiB) "
            "| `openai` imported |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for name, v in imports.items():
            if name == "errors":
                continue
            share = (
                f"{v['seconds'] / opena['seconds'] * 100:.0f}%"
                if opena and name not in ("import openai", "python (nothing)")
                else ""
            )
            added = (v["rss"] - base["rss"]) / 2**20 if base else 0
            out.append(
                f"| `{name}` | {v['seconds'] * 1000:.1f} | {share} | {v['rss'] / 2**20:.1f} | "
                f"{added:.1f} | {'yes' if v['openai_loaded'] else 'no'} |"
            )
        for name, why in imports.get("errors", {}).items():
            out.append(f"| `{name}` | n/a: {why} | | | | |")
        out.append("")
    memory = results.get("memory")
    if memory:
        out += [
            f"**Memory per in-flight request** ({results['inflight']} concurrent async requests "
            "held by the server for 2 s; RSS growth ÷ requests, median):",
            "",
            "| client | KiB per request | RSS before (MiB) |",
            "|---|---:|---:|",
        ]
        for name, v in memory.items():
            if name == "errors":
                continue
            out.append(f"| {name} | {v['per_request'] / 1024:.1f} | {v['before'] / 2**20:.1f} |")
        for name, why in memory.get("errors", {}).items():
            out.append(f"| {name} | n/a: {why} | |")
        out.append("")
    cache = results.get("cache")
    if cache:
        out += cache_hits.report_cache(cache)
    http = results.get("http")
    if http:
        names, samples, unavailable = http["names"], http["samples"], http["unavailable"]
        base = "httpx"
        out += [
            "**HTTP layer candidates** (same msgspec decoding in each; client CPU µs per "
            "operation; in parentheses httpx ÷ this):",
            "",
            *_table(names, samples, unavailable, "cpu", base),
            "",
        ]
    if results.get("otel"):
        out += otel.report(results["otel"])
    if results.get("batch"):
        out += batch_section.report_batch(results["batch"])
    return "\n".join(out)


def _serializable(group: tuple) -> dict[str, Any]:
    names, samples, unavailable = group
    return {"names": names, "samples": samples, "unavailable": unavailable}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and operations")
    parser.add_argument("--rounds", type=int, help="rounds per workload (default 7, quick 3)")
    parser.add_argument(
        "--sections",
        default="main,imports,memory,cache,http,otel,batch",
        help="comma-separated: main, imports, memory, cache, http, otel, batch",
    )
    parser.add_argument(
        "--otel-baseline",
        type=Path,
        help="a checkout of the repository to measure as `before` in the otel section",
    )
    parser.add_argument("--update-readme", action="store_true", help="write tables to README")
    parser.add_argument("--json", type=Path, help="also write raw results here")
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        kind, base_url, inflight = args.memory_child
        _memory_child(kind, base_url, int(inflight))
        return
    mode = "quick" if args.quick else "full"
    rounds = args.rounds or (3 if args.quick else 7)
    size = SIZES[mode]
    sections = set(args.sections.split(","))

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    server = Server()
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "mode": mode,
        "rounds": rounds,
        "inflight": 256 if args.quick else 512,
    }
    try:
        if "main" in sections:
            log("main comparison (client CPU µs/op):")
            results["main"] = _serializable(
                bench_group(cs.MAIN, server.base_url, rounds, size, log)
            )
        if "imports" in sections:
            log("imports:")
            results["imports"] = bench_imports(server.base_url, 3 if args.quick else 7, log)
        if "memory" in sections:
            log("memory:")
            results["memory"] = bench_memory(
                server.base_url, results["inflight"], 1 if args.quick else 3, log
            )
        if "cache" in sections:
            log("cache hits (client CPU µs/op):")
            results["cache"] = cache_hits.bench_cache(
                server.base_url, rounds, 100 if args.quick else 300, log
            )
        if "http" in sections:
            log("HTTP layer candidates (client CPU µs/op):")
            results["http"] = _serializable(
                bench_group(cs.HTTP, server.base_url, rounds, size, log)
            )
        if "otel" in sections:
            log("telemetry modes (client CPU µs/op, one child process per sample):")
            results["otel"] = otel.bench_otel(
                server.base_url, rounds, size, log, args.otel_baseline
            )
        if "batch" in sections:
            log("batch against a rate-limited server:")
            results["batch"] = batch_section.bench_batch(args.quick, log)
    finally:
        server.stop()
    text = report(results)
    print(text)
    if args.json:
        args.json.write_text(
            json.dumps(results, default=lambda s: {"cpu_us": s.cpu, "wall_us": s.wall}, indent=1)
        )
    if args.update_readme:
        readme = HERE / "README.md"
        current = readme.read_text()
        start, end = current.index(MARK_START), current.index(MARK_END)
        readme.write_text(current[: start + len(MARK_START)] + "\n" + text + "\n" + current[end:])


if __name__ == "__main__":
    main()
