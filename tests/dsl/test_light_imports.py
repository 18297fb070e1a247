"""Importing the tools, generation and dsl packages loads no optional dependency."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
import msgflux
before = set(sys.modules)
import msgflux.tools, msgflux.generation, msgflux.dsl
import msgflux.dsl.typed_parsers, msgflux.generation.reasoning, msgflux.generation.plan
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_imports_stay_light():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    # Only msgflux's own modules and msgspec (a core dependency) may come in.
    outside = [m for m in loaded if not m.startswith(("msgflux", "msgspec"))]
    heavy = [
        m for m in outside if m.split(".")[0] in {"defusedxml", "jinja2", "xml", "openai", "httpx"}
    ]
    assert heavy == [], outside
