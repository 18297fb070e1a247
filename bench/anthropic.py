"""Client CPU per call: msgflux's ``anthropic`` provider against the official ``anthropic`` SDK.

Both talk to ``msgflux.testing.anthropic_server.MessagesServer`` running in a child process
(so its CPU is not counted), with the same request; each contender reads its answer. The
figures are the client process's CPU time per call (median of three samples), a whole
answer and a stream of about 40 events (text deltas of a 30-word answer, plus the block and
message events). Run it from the repository root in the dev environment, which has the SDK:

    hatch run python bench/anthropic.py [CALLS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

SERVER = (
    "import time\n"
    "from msgflux.testing.anthropic_server import MessagesServer\n"
    "server = MessagesServer(record=False).start()\n"
    "print(server.base_url, flush=True)\n"
    "time.sleep(3600)\n"
)
MODEL = "claude-sonnet-4-20250514"
MESSAGES = [{"role": "user", "content": "one two three four five six seven eight nine ten " * 3}]


def cpu_per_call(call: Callable[[], Any], calls: int) -> float:
    """Microseconds of this process's CPU per call (after 50 warm-up calls)."""
    for _ in range(50):
        call()
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) / calls * 1e6


def main(calls: int) -> None:
    import anthropic

    import msgflux as mf

    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        base_url = (server.stdout.readline() if server.stdout else "").strip()
        sdk = anthropic.Anthropic(base_url=base_url, api_key="k", max_retries=0)
        model = mf.Model.chat_completion(
            f"anthropic/{MODEL}", base_url=base_url, api_key="k", retry=False
        )

        def sdk_request() -> str:
            message = sdk.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
            return str(message.content[0].text)  # type: ignore[union-attr]

        def msgflux_request() -> str:
            return str(model(MESSAGES, max_tokens=64).consume())

        def sdk_stream() -> int:
            with sdk.messages.create(
                model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
            ) as stream:
                return sum(1 for _ in stream)

        def msgflux_stream() -> int:
            return sum(1 for _ in model(MESSAGES, max_tokens=64, stream=True))

        assert sdk_request() == msgflux_request()
        rows = {
            name: statistics.median(cpu_per_call(call, count) for _ in range(3))
            for name, call, count in (
                ("sdk request", sdk_request, calls),
                ("msgflux request", msgflux_request, calls),
                ("sdk stream", sdk_stream, calls // 2),
                ("msgflux stream", msgflux_stream, calls // 2),
            )
        }
        for name, micros in rows.items():
            print(f"{name:16s} {micros:8.1f} us client CPU per call")
        print(
            f"sdk / msgflux: request {rows['sdk request'] / rows['msgflux request']:.1f}x, "
            f"stream {rows['sdk stream'] / rows['msgflux stream']:.1f}x"
        )
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
