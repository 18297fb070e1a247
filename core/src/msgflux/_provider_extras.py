"""Which extra of ``msgflux`` installs which provider's plugin, read from the core's extras.

``msgflux.providers.KNOWN_PROVIDER_EXTRAS`` is an instance of ``ProviderExtras``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping

__all__ = ["ProviderExtras"]


class ProviderExtras(Mapping[str, str]):
    """Provider name -> the extra of ``msgflux`` that installs its plugin, read on first use.

    Derived from the core's ``[project.optional-dependencies]``, so that adding a provider
    to this repository edits one list (the extras), not a second copy of it here: an extra
    whose only plugin requirement is ``msgflux-<name>`` installs provider ``<name>``
    (``all`` names several and maps nothing; an extra named after the provider wins over
    any other that also installs only it).

    Where the extras are read, first found wins:

    1. the ``pyproject.toml`` of a source checkout this module runs from (an editable
       install or ``PYTHONPATH=core/src``): its installed metadata, if any, may be stale;
    2. the installed ``msgflux`` distribution's metadata (``Requires-Dist`` with
       ``extra == ...`` markers), when its version is the running package's (another
       version's extras would name the wrong plugins);
    3. nothing: the mapping is empty, and a missing provider's error then lists the
       installed providers without suggesting an extra that may not exist.

    Only an error message needs this mapping, never ``import msgflux``: ``importlib.metadata``
    and ``tomllib`` cost more to import than the rest of plugin discovery, so they load
    here, on first access.
    """

    __slots__ = ("_extras",)

    def __init__(self) -> None:
        self._extras: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        # Two threads may both compute it on first access; either result is the same.
        if self._extras is None:
            self._extras = _provider_extras(_declared_extras())
        return self._extras

    def __getitem__(self, provider: str) -> str:
        return self._load()[provider]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"KNOWN_PROVIDER_EXTRAS({self._load()!r})"


def _canonical(name: str) -> str:
    """A distribution name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    """``"msgflux-groq[x]>=0.6; extra == 'groq'"`` -> ``"msgflux-groq"`` (canonical)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return _canonical(match.group(1)) if match else ""


def _provider_extras(extras: Mapping[str, list[str]]) -> dict[str, str]:
    """Provider -> extra, from each extra's requirement strings."""
    found: dict[str, str] = {}
    for extra, requirements in extras.items():
        plugins = {
            name for name in map(_requirement_name, requirements) if name.startswith("msgflux-")
        }
        if len(plugins) != 1:  # `all`, `xml`: not one provider's extra
            continue
        provider = plugins.pop().removeprefix("msgflux-")
        if provider not in found or extra == provider:
            found[provider] = extra
    return found


def _declared_extras() -> dict[str, list[str]]:
    """The core's extras and their requirement strings, from the first source that has them."""
    for read in (_extras_from_source_tree, _extras_from_metadata):
        extras = read()
        if extras is not None:
            return extras
    return {}


def _extras_from_source_tree() -> dict[str, list[str]] | None:
    # core/src/msgflux/_provider_extras.py -> core/pyproject.toml. Installed as a wheel, that path
    # is <prefix>/lib/pythonX.Y/pyproject.toml: absent, or not msgflux's.
    import tomllib

    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.normpath(os.path.join(here, os.pardir, os.pardir, "pyproject.toml"))
    try:
        with open(path, "rb") as file:
            project = tomllib.load(file).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if project.get("name") != "msgflux":
        return None
    extras = project.get("optional-dependencies", {})
    return {str(extra): [str(r) for r in requirements] for extra, requirements in extras.items()}


def _extras_from_metadata() -> dict[str, list[str]] | None:
    import importlib.metadata

    from msgflux import __version__

    try:
        distribution = importlib.metadata.distribution("msgflux")
    except importlib.metadata.PackageNotFoundError:
        return None
    if distribution.version != __version__:
        return None
    extras: dict[str, list[str]] = {}
    for requirement in distribution.requires or []:
        marker = re.search(r"""\bextra\s*==\s*['"]([^'"]+)['"]""", requirement)
        if marker is not None:
            extras.setdefault(marker.group(1), []).append(requirement)
    return extras
