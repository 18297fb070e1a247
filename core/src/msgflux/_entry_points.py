"""Finding the ``msgflux`` entry points of installed distributions, quickly.

``importlib.metadata`` imports ``email``, ``zipfile``, ``csv`` and ``pathlib`` and costs
about 20 ms, a third of ``import msgflux``. Installed distributions are plain
``*.dist-info`` directories on ``sys.path`` (wheels, editable installs, ``pip --target``),
so the scan reads them directly: list each path entry once, open ``entry_points.txt``, and
read name and version from ``METADATA`` only for the distributions that declare msgflux
plugins. As ``importlib.metadata`` does, the first distribution of a name on ``sys.path``
wins. A path entry that is not a directory (a zip file) falls back to
``importlib.metadata``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["PluginEntryPoint", "find_entry_points"]

_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")
_NORMALIZE = re.compile(r"[-_.]+")


@dataclass(frozen=True)
class PluginEntryPoint:
    """One entry point: ``name = value`` of ``distribution`` ``version``."""

    name: str
    value: str
    distribution: str | None
    version: str | None

    def load(self) -> Any:
        """Import the module (and attribute) the entry point names."""
        module_name, _, attribute = self.value.partition(":")
        target = importlib.import_module(module_name.strip())
        for part in filter(None, attribute.strip().split(".")):
            target = getattr(target, part)
        return target


def find_entry_points(group: str) -> list[PluginEntryPoint]:
    """Every entry point of ``group`` among the distributions installed on ``sys.path``."""
    found: list[PluginEntryPoint] = []
    seen: set[str] = set()
    for entry in sys.path:
        directory = entry or "."
        if not os.path.isdir(directory):
            if os.path.isfile(directory):  # a zipped path entry: let the stdlib read it
                return _with_importlib(group)
            continue
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            # "{name}-{version}.dist-info", the name with "-" escaped as "_"
            stem = name.removesuffix(".dist-info").removesuffix(".egg-info").split("-", 1)[0]
            dist_key = _NORMALIZE.sub("_", stem).lower()
            if dist_key in seen:
                continue
            seen.add(dist_key)
            path = os.path.join(directory, name)
            points = _read_group(os.path.join(path, "entry_points.txt"), group)
            if points:
                distribution, version = _name_and_version(path)
                found.extend(
                    PluginEntryPoint(point, value, distribution, version) for point, value in points
                )
    return found


def _read_group(path: str, group: str) -> list[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError:
        return []
    points: list[tuple[str, str]] = []
    current = None
    for line in text.splitlines():
        section = _SECTION.match(line)
        if section:
            current = section.group("name").strip()
            continue
        if current != group or "=" not in line or line.lstrip().startswith(("#", ";")):
            continue
        name, _, value = line.partition("=")
        points.append((name.strip(), value.strip()))
    return points


def _name_and_version(path: str) -> tuple[str | None, str | None]:
    for metadata in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(path, metadata), encoding="utf-8") as file:
                name = version = None
                for line in file:
                    if not line.strip():
                        break  # the headers end at the first blank line
                    if line.startswith("Name:"):
                        name = line[5:].strip()
                    elif line.startswith("Version:"):
                        version = line[8:].strip()
                return name, version
        except OSError:
            continue
    return None, None


def _with_importlib(group: str) -> list[PluginEntryPoint]:
    import importlib.metadata

    return [
        PluginEntryPoint(
            point.name,
            point.value,
            point.dist.name if point.dist is not None else None,
            point.dist.version if point.dist is not None else None,
        )
        for point in importlib.metadata.entry_points(group=group)
    ]
