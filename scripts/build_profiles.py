"""Build msgflux's packaged model-profile snapshot from a models.dev data checkout.

Usage::

    python scripts/build_profiles.py [SOURCE] [--output PATH] [--check]

SOURCE is a models.dev data directory (``providers/`` and ``models/`` of TOML files); it
defaults to ``../shared/data/models-dev`` relative to the repository root. The output is the
compact catalogue described in ``msgflux.models.profiles.catalogue``, gzip-compressed, written
to ``core/src/msgflux/models/profiles/snapshot.json.gz`` unless ``--output`` says otherwise.
``--check`` builds in memory and exits 1 if the packaged file differs.

What the script resolves:

- ``base_model = "vendor/model"`` in a provider's model file: the model inherits every field
  of ``models/<vendor>/<model>.toml``; tables (``[limit]``, ``[cost]``, ``[modalities]``)
  merge key by key, other values of the provider file replace the inherited ones.
  ``base_model_omit = ["limit.input", ...]`` drops those inherited keys first.
- Files whose whole content is a relative path to another ``.toml`` (git symlinks checked out
  as text) are followed; ones pointing nowhere are skipped and counted.
- The model id is the file path under ``models/`` without ``.toml`` (it may contain ``/``).
"""

from __future__ import annotations

import argparse
import copy
import gzip
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "models-dev"
DEFAULT_OUTPUT = REPO_ROOT / "core" / "src" / "msgflux" / "models" / "profiles" / "snapshot.json.gz"

try:
    from msgflux.models.profiles import catalogue
except ImportError:  # running from a checkout without msgflux installed
    sys.path.insert(0, str(REPO_ROOT / "core" / "src"))
    from msgflux.models.profiles import catalogue

_MAX_LINK_HOPS = 8


class _Dangling(Exception):
    """A text symlink whose target does not exist."""


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, following text symlinks (``../../zai/models/x.toml``)."""
    for _ in range(_MAX_LINK_HOPS):
        text = path.read_text(encoding="utf-8")
        target = text.strip()
        if "\n" in target or not target.endswith(".toml") or "=" in target:
            return tomllib.loads(text)
        path = path.parent / target
        if not path.exists():
            raise _Dangling(str(path))
    raise ValueError(f"too many symlink hops at {path}")


def _omit(table: dict[str, Any], dotted: str) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        table = table.get(part)
        if not isinstance(table, dict):
            return
    table.pop(last, None)


def merge(base: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge: tables merge key by key, anything else in ``own`` replaces ``base``."""
    merged = copy.deepcopy(dict(base))
    for key, value in own.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve(own: Mapping[str, Any], canonical: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A provider model's fields with ``base_model`` inheritance applied.

    Raises:
        KeyError: ``base_model`` names a model that is not in ``models/``.
    """
    base_id = own.get("base_model")
    if not base_id:
        return dict(own)
    if base_id not in canonical:
        raise KeyError(f"base_model {base_id!r} is not in models/")
    base = copy.deepcopy(dict(canonical[base_id]))
    for dotted in own.get("base_model_omit", ()):
        _omit(base, dotted)
    merged = merge(base, {k: v for k, v in own.items() if k != "base_model_omit"})
    merged.pop("weights", None)  # the base's weights links are not the provider's
    return merged


def _model_files(directory: Path) -> list[tuple[str, Path]]:
    return sorted(
        (path.relative_to(directory).with_suffix("").as_posix(), path)
        for path in directory.rglob("*.toml")
    )


def load_source(source: Path) -> tuple[dict[str, dict], dict[str, dict[str, dict]], list[str]]:
    """Read a models.dev data directory.

    Returns:
        ``(canonical, providers, skipped)``: ``"vendor/model"`` -> fields;
        provider -> model id -> resolved fields; paths of dangling links.
    """
    skipped: list[str] = []
    canonical: dict[str, dict] = {}
    for cid, path in _model_files(source / "models"):
        try:
            canonical[cid] = read_toml(path)
        except _Dangling:
            skipped.append(str(path.relative_to(source)))
    providers: dict[str, dict[str, dict]] = {}
    for provider_dir in sorted(p for p in (source / "providers").iterdir() if p.is_dir()):
        models_dir = provider_dir / "models"
        if not models_dir.is_dir():
            continue
        models: dict[str, dict] = {}
        for mid, path in _model_files(models_dir):
            try:
                models[mid] = resolve(read_toml(path), canonical)
            except _Dangling:
                skipped.append(str(path.relative_to(source)))
        providers[provider_dir.name] = models
    return canonical, providers, skipped


def build(source: Path) -> tuple[bytes, dict[str, Any]]:
    """Build the compressed snapshot bytes from a models.dev data directory.

    Returns:
        ``(gzip bytes, stats)``.
    """
    canonical, providers, skipped = load_source(source)
    provider_rows = {
        pid: {
            mid: catalogue.compact_row(fields, fallback_name=mid) for mid, fields in models.items()
        }
        for pid, models in providers.items()
    }
    model_rows = {
        cid: catalogue.compact_row(fields, fallback_name=cid.split("/", 1)[-1])
        for cid, fields in canonical.items()
    }
    everything = [*canonical.values(), *(f for m in providers.values() for f in m.values())]
    document = catalogue.build_document(
        provider_rows,
        model_rows,
        catalogue.canonical_name_index(canonical),
        source="models.dev snapshot",
        data_date=catalogue.newest_date(everything),
    )
    raw = catalogue.encode_document(document)
    # mtime=0 and no file name: the same input gives the same bytes.
    packed = gzip.compress(raw, compresslevel=9, mtime=0)
    stats = {
        "providers": len(provider_rows),
        "provider_models": sum(len(rows) for rows in provider_rows.values()),
        "canonical_models": len(model_rows),
        "skipped_dangling_links": len(skipped),
        "json_bytes": len(raw),
        "gzip_bytes": len(packed),
        "data_date": document["data_date"],
    }
    return packed, stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if --output is stale")
    args = parser.parse_args(argv)
    packed, stats = build(args.source)
    summary = ", ".join(f"{key}={value}" for key, value in stats.items())
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != packed:
            print(f"{args.output} is stale; rerun scripts/build_profiles.py ({summary})")
            return 1
        print(f"{args.output} is up to date ({summary})")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(packed)
    print(f"wrote {args.output} ({summary})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
