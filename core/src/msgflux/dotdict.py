"""``dotdict``: a dict whose keys are also attributes (``metadata.usage``)."""

from __future__ import annotations

from typing import Any

__all__ = ["dotdict"]


class dotdict(dict[str, Any]):
    """A ``dict`` that also exposes its keys as attributes, recursively for nested dicts.

    Missing attributes raise ``AttributeError`` (so ``hasattr`` and ``getattr`` with a
    default behave), and missing keys raise ``KeyError`` as for any dict.
    """

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, value in self.items():
            converted = _wrap(value)
            if converted is not value:
                dict.__setitem__(self, key, converted)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, _wrap(value))

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def copy(self) -> dotdict:
        return dotdict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dotdict:
        from copy import deepcopy

        return dotdict({key: deepcopy(value, memo) for key, value in self.items()})

    def __reduce__(self) -> tuple[type[dotdict], tuple[dict[str, Any]]]:
        return (dotdict, (dict(self),))


def _wrap(value: Any) -> Any:
    if type(value) is dict:
        return dotdict(value)
    if type(value) is list:
        return [_wrap(item) for item in value]
    return value
