"""``examples/gateway.py``, run as a user runs it: two local replicas, no hosted key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_gateway_example_runs_on_two_local_replicas(llamacpp_installation):
    # No hosted provider's key reaches the example: tests send traffic to 127.0.0.1 only.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.endswith("_API_KEY") or name == "LLAMACPP_API_KEY"
    }
    env["MSGFLUX_LLAMACPP_VENV"] = str(llamacpp_installation.python.parent.parent)
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "gateway.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(r"^replica local-a at http://127\.0\.0\.1:\d+/v1$", out, re.M), out
    assert re.search(r"^replica local-b at http://127\.0\.0\.1:\d+/v1$", out, re.M), out
    assert "hosted fallback: none (no API key set)" in out
    calls = re.findall(r"^call (\d+): answered by (local-[ab]) \(tried ([^)]*)\)", out, re.M)
    assert [int(number) for number, _, _ in calls] == list(range(1, 9)), out
    # Four calls at once are split between the replicas.
    assert {replica for _, replica, _ in calls[:4]} == {"local-a", "local-b"}, out
    # After local-a was stopped, every call is still answered, by local-b.
    stopped = out.index("== replica local-a stopped")
    after = re.findall(r"^call \d+: answered by (local-[ab])", out[stopped:], re.M)
    assert after == ["local-b"] * 4, out
    assert re.search(r"^== stream\n\S.*\nanswered by local-[ab]$", out, re.M), out
    assert re.search(r"^local-a: open, \d+ answers, [1-9]\d* failures$", out, re.M), out
    assert re.search(r"^local-b: closed, \d+ answers, 0 failures$", out, re.M), out
    assert out.rstrip().endswith("servers stopped"), out
