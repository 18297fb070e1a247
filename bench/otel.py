"""The cost of msgflux's OpenTelemetry instrumentation, per request and per stream chunk.

``run.py`` runs this as its ``otel`` section. Each telemetry mode runs in a fresh child
process (the same msgflux model workloads as the ``main`` section, one round per child),
and the modes take turns, round after round, in a rotating order:

- ``never imported``: ``msgflux.instrument()`` never called; the child checks that no
  ``opentelemetry`` module was loaded;
- ``off``: ``instrument()`` then ``uninstrument()`` (OpenTelemetry imported, switch off);
- ``on, API only``: ``instrument()`` with no SDK configured (OpenTelemetry's no-op tracer
  and meter: what an app that installed ``msgflux[otel]`` but exports nothing pays);
- ``on, SDK in memory``: ``instrument()`` with the OpenTelemetry SDK, every span exported
  synchronously to an ``InMemorySpanExporter`` and metrics kept by an ``InMemoryMetricReader``;
- ``before`` (with ``--otel-baseline PATH``): ``never imported`` on another checkout of the
  repository (e.g. the commit before telemetry), to show what the switch itself costs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

MODES = ["never imported", "off", "on, API only", "on, SDK in memory"]
BASELINE = "before"
WORKLOADS = ["sync", "async", "async256", "stream_sync", "stream_async"]


def _set_up(mode: str) -> Any:
    """Put this process in ``mode``; return what must stay alive (providers)."""
    import msgflux as mf

    if mode in ("never imported", BASELINE):
        return None
    if mode == "off":
        mf.instrument()
        mf.uninstrument()
        return None
    if mode == "on, API only":
        mf.instrument()
        return None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    mf.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return exporter, tracer_provider, meter_provider


def child(mode: str, base_url: str, size_json: str) -> None:
    """Child process: one round of the workloads in ``mode``; prints µs per operation."""
    import contenders as cs
    from run import bench_group

    kept = _set_up(mode)
    size = json.loads(size_json)
    names, samples, unavailable = bench_group([cs.MsgfluxModel], base_url, 1, size, lambda _: None)
    if unavailable:
        raise SystemExit(f"unavailable: {unavailable}")
    loaded = any(name.startswith("opentelemetry") for name in sys.modules)
    if mode in ("never imported", BASELINE) and loaded:
        raise SystemExit("opentelemetry was imported although telemetry was never turned on")
    if mode == "on, SDK in memory":
        exporter = kept[0]
        assert exporter.get_finished_spans(), "the SDK recorded no span"
    out = {key: samples[key][names[0]][0].cpu for key in WORKLOADS if samples.get(key)}
    print(json.dumps(out))


def _run_child(mode: str, base_url: str, size: dict, baseline: Path | None) -> dict[str, float]:
    env = dict(os.environ)
    if mode == BASELINE and baseline is not None:
        sources = [baseline / "core" / "src", baseline / "plugins" / "msgflux-openai" / "src"]
        env["PYTHONPATH"] = os.pathsep.join(str(path) for path in sources)
    proc = subprocess.run(
        [sys.executable, str(HERE / "otel.py"), mode, base_url, json.dumps(size)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=HERE,
    )
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["failed"])[-1][:200])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_otel(
    base_url: str, rounds: int, size: dict, log: Callable[[str], None], baseline: Path | None
) -> dict[str, Any]:
    """Every mode, ``rounds`` times, interleaved; medians of µs per operation."""
    modes = ([BASELINE] if baseline is not None else []) + MODES
    got: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    errors: dict[str, str] = {}
    for round_ in range(rounds):
        order = modes[round_ % len(modes) :] + modes[: round_ % len(modes)]
        for mode in order:
            if mode in errors:
                continue
            try:
                got[mode].append(_run_child(mode, base_url, size, baseline))
            except RuntimeError as exc:
                errors[mode] = str(exc)
                log(f"  {mode}: unavailable ({exc})")
    medians = {
        mode: {key: statistics.median(run[key] for run in runs) for key in WORKLOADS}
        for mode, runs in got.items()
        if runs
    }
    for mode, values in medians.items():
        log(f"  {mode}: " + ", ".join(f"{key} {value:.1f}us" for key, value in values.items()))
    return {"modes": medians, "errors": errors}


_TITLES = {
    "sync": "sync request (µs/request)",
    "async": "async request (µs/request)",
    "async256": "async, 256 concurrent (µs/request)",
    "stream_sync": "stream chunk, sync iteration (µs/chunk)",
    "stream_async": "stream chunk, `consume()` (µs/chunk)",
}


def report(results: dict[str, Any]) -> list[str]:
    """The table: client CPU per operation per mode, and the difference to never-imported."""
    modes = results["modes"]
    if "never imported" not in modes:
        return []
    base = modes["never imported"]
    names = list(modes)
    lines = [
        "**Telemetry cost** (msgflux model, fast transport; client CPU µs per operation, "
        "median; in parentheses: the difference to `never imported`):",
        "",
        "| workload | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for key in WORKLOADS:
        cells = []
        for mode in names:
            value = modes[mode][key]
            if mode == "never imported":
                cells.append(f"{value:,.2f}")
            else:
                change = (value - base[key]) / base[key] * 100
                cells.append(f"{value:,.2f} ({change:+.0f}%)")
        lines.append(f"| {_TITLES[key]} | " + " | ".join(cells) + " |")
    for mode, why in results.get("errors", {}).items():
        lines.append(f"\n- {mode}: not measured ({why}).")
    lines.append("")
    return lines


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    child(*sys.argv[1:4])
