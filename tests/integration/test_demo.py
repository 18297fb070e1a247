"""The README demo (``examples/demo.py``), run as a user runs it, against the local server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_on_the_local_model(llamacpp_installation):
    # No hosted provider's key reaches the demo: tests send traffic to 127.0.0.1 only.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.endswith("_API_KEY") or name == "LLAMACPP_API_KEY"
    }
    # The demo sets up and starts its own server: point it at the installation in use.
    env["MSGFLUX_LLAMACPP_VENV"] = str(llamacpp_installation.python.parent.parent)
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^model: llamacpp/smollm2$", out, re.M), out
    assert re.search(r"^server started at http://127\.0\.0\.1:\d+/v1", out, re.M), out
    for section in ("chat", "stream"):
        answer = re.search(rf"^== {section}\n(.*)$", out, re.M)
        assert answer and answer.group(1).strip(), out
    assert re.search(
        r"^== structured output\nCity\(name='.*', country='.*', population=-?\d+\)$", out, re.M
    ), out
    assert re.search(r"^== tool call\nget_weather\(\{'city': '.+'\}\) -> '.+'$", out, re.M), out
    assert re.search(r"^final answer: \S", out, re.M), out
    assert out.rstrip().endswith("server stopped"), out
