"""Importing the package reads no data; the first lookup does."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_import_loads_nothing_until_the_first_lookup(tmp_path) -> None:
    code = textwrap.dedent(
        """
        import sys
        import msgflux.models.profiles as profiles
        loaded = lambda: "msgflux.models.profiles.catalogue" in sys.modules
        print(loaded(), "urllib.request" in sys.modules)
        profiles.get_model_profile("gpt-4.1-mini", provider_id="openai")
        print(loaded(), "urllib.request" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"MSGFLUX_CACHE_DIR": str(tmp_path), "PATH": ""},
    )

    # after import: no catalogue code, no HTTP client; after a lookup: catalogue, still no HTTP
    assert result.stdout.split() == ["False", "False", "True", "False"]
