"""``import msgflux`` loads no backend: sqlite3 and redis come with the first disk or Redis
cache."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
# What the interpreter loaded already (a coverage hook loads sqlite3) is not msgflux's doing.
WATCHED = [m for m in WATCHED if m not in sys.modules]
import msgflux as mf
loaded = {"import": [m for m in WATCHED if m in sys.modules]}
mf.Model.chat_completion("fake/echo", cache="memory")("hi")
loaded["memory"] = [m for m in WATCHED if m in sys.modules]
import msgflux.cache
msgflux.cache.SQLiteCache
loaded["disk"] = [m for m in WATCHED if m in sys.modules]
print(json.dumps(loaded))
"""
WATCHED = ["sqlite3", "redis", "pathlib", "msgflux.cache.sqlite", "msgflux.cache.redis"]


def test_backends_load_when_used():
    code = f"WATCHED = {WATCHED!r}\n{CODE}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert loaded["import"] == [] and loaded["memory"] == []
    assert "msgflux.cache.sqlite" in loaded["disk"] and "redis" not in loaded["disk"]
