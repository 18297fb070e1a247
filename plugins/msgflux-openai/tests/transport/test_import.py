"""Importing and creating the transport stays cheap: no SDK, HTTP stack loaded on demand."""

from __future__ import annotations

import json
import subprocess
import sys

CHECK = """
import json, sys
import msgflux_openai.transport as transport
after_import = sorted(m for m in ("openai", "httpx", "aiohttp", "msgflux_openai.transport._aio",
                                  "msgflux_openai.transport._sync") if m in sys.modules)
clients = transport.create_clients(base_url="http://127.0.0.1:9/v1", api_key="k")
clients.close()
after_create = sorted(m for m in ("openai", "httpx", "aiohttp") if m in sys.modules)
print(json.dumps({"import": after_import, "create": after_create,
                  "lazy": transport.ChatCompletion.__module__}))
"""


def test_import_and_create_do_not_load_the_sdk():
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, timeout=60
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["import"] == []
    assert seen["create"] == []
    assert seen["lazy"] == "msgflux_openai.transport.structs"


def test_public_surface():
    import msgflux_openai.transport as transport

    assert transport.__all__ == ["DEFAULT_MAX_CONNECTIONS", "create_clients"]
    lazy = {
        "AsyncClient",
        "AsyncStream",
        "SyncClient",
        "SyncStream",
        "ChatCompletion",
        "ChatCompletionAudio",
        "ChatCompletionChunk",
        "ChatCompletionMessage",
        "Choice",
        "ChoiceDelta",
        "ChoiceDeltaToolCall",
        "ChoiceDeltaToolCallFunction",
        "ChunkChoice",
        "CompletionUsage",
        "Function",
        "ToolCall",
    }
    assert lazy <= set(dir(transport))
    for name in lazy:
        assert getattr(transport, name).__name__ == name
    from msgflux_openai.transport import structs

    assert set(structs.__all__) == lazy - {"AsyncClient", "AsyncStream", "SyncClient", "SyncStream"}
