"""scripts/build_profiles.py: it reproduces the packaged snapshot and resolves inheritance."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import msgflux.models.profiles.store as store

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_profiles.py"


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _document(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


def test_regenerating_gives_the_packaged_bytes(models_dev: Path, tmp_path: Path) -> None:
    output = tmp_path / "snapshot.json.gz"

    result = _run(models_dev, "--output", output)

    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == Path(store.SNAPSHOT_PATH).read_bytes(), (
        "the packaged snapshot is stale: run python scripts/build_profiles.py"
    )


def test_check_tells_a_current_file_from_a_stale_one(tmp_path: Path) -> None:
    source = tmp_path / "models-dev"
    _write(source / "models/acme/a.toml", 'name = "A"\n')
    _write(source / "providers/host/models/a.toml", 'base_model = "acme/a"\n')
    output = tmp_path / "out.json.gz"
    assert _run(source, "--output", output).returncode == 0

    assert _run(source, "--check", "--output", output).returncode == 0
    _write(source / "providers/host/models/b.toml", 'name = "B"\n')
    result = _run(source, "--check", "--output", output)
    assert result.returncode == 1
    assert "stale" in result.stdout


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_inheritance_omit_links_and_ids_with_slashes(tmp_path: Path) -> None:
    source = tmp_path / "models-dev"
    _write(
        source / "models/acme/rocket-1.toml",
        "\n".join(
            [
                'name = "Rocket 1"',
                'family = "rocket"',
                'release_date = "2026-01-01"',
                'last_updated = "2026-01-02"',
                "reasoning = true",
                "tool_call = true",
                "open_weights = true",
                "[limit]",
                "context = 100_000",
                "input = 90_000",
                "output = 8_000",
                "[modalities]",
                'input = ["text", "image"]',
                'output = ["text"]',
                "[[weights]]",
                'url = "https://huggingface.co/Acme/Rocket-1-Instruct"',
            ]
        ),
    )
    _write(
        source / "providers/host/models/acme/rocket-1.toml",
        "\n".join(
            [
                'base_model = "acme/rocket-1"',
                'base_model_omit = ["limit.input"]',
                "tool_call = false",
                "[cost]",
                "input = 1.5",
                "output = 3",
                "[limit]",
                "output = 4_000",
                "[modalities]",
                'input = ["text"]',
            ]
        ),
    )
    # a git symlink checked out as a text file, and one pointing nowhere
    _write(source / "providers/mirror/models/rocket.toml", "../../host/models/acme/rocket-1.toml")
    _write(source / "providers/mirror/models/gone.toml", "../../host/models/gone.toml")
    output = tmp_path / "out.json.gz"

    result = _run(source, "--output", output)

    assert result.returncode == 0, result.stderr
    assert "skipped_dangling_links=1" in result.stdout
    document = _document(output)
    row = document["providers"]["host"]["acme/rocket-1"]
    name, family, flags, mod_in, mod_out, context, input_limit, output_limit = row[:8]
    assert (name, family) == ("Rocket 1", "rocket")  # inherited
    assert flags & 4 and not flags & 1  # reasoning inherited, tool_call overridden
    assert mod_in == ["text"] and mod_out == ["text"]  # own list replaces, sibling key kept
    assert (context, input_limit, output_limit) == (100_000, None, 4_000)  # merged, omitted, own
    assert row[8:10] == [1.5, 3]
    assert row[-1] == "acme/rocket-1"  # base_model recorded
    assert document["providers"]["mirror"] == {"rocket": row}
    assert document["data_date"] == "2026-01-02"
    assert document["open_weights_models"] == {
        "rocket-1": "acme/rocket-1",
        "acme/rocket-1-instruct": "acme/rocket-1",
        "rocket-1-instruct": "acme/rocket-1",
    }
    assert document["open_weights_hosted"]["rocket-1"] == ["host", "acme/rocket-1"]
    assert document["open_weights_hosted"]["rocket"] == ["mirror", "rocket"]


def test_a_missing_base_model_fails_the_build(tmp_path: Path) -> None:
    source = tmp_path / "models-dev"
    (source / "models").mkdir(parents=True)
    _write(source / "providers/host/models/x.toml", 'base_model = "acme/none"\n')

    result = _run(source, "--output", tmp_path / "out.json.gz")

    assert result.returncode != 0
    assert "acme/none" in result.stderr
