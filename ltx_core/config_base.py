"""Config dataclasses built from checkpoint metadata.

``from_dict`` ignores keys the port does not read, takes defaults for absent keys (exactly
as the official loaders do) and rejects a value the port does not implement with a
message naming the key and the value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from ltx_core.errors import ConfigError

T = TypeVar("T", bound="ConfigBase")


class ConfigBase:
    # key -> allowed values; a present key with another value is rejected.
    SUPPORTED_VALUES: ClassVar[dict[str, tuple[Any, ...]]] = {}
    SECTION: ClassVar[str] = ""

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any], source: str = "checkpoint config") -> T:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: section '{cls.SECTION}' must be a JSON object, got {type(data).__name__}")
        where = f"{source}, section '{cls.SECTION}'" if cls.SECTION else source
        for key, allowed in cls.SUPPORTED_VALUES.items():
            if key in data and data[key] not in allowed:
                choices = ", ".join(repr(a) for a in allowed)
                raise ConfigError(
                    f"{where}: {key} = {data[key]!r} is not supported by this port (supported: {choices})."
                )
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs = {k: v for k, v in data.items() if k in names}
        try:
            config = cls(**kwargs)
        except TypeError as exc:  # pragma: no cover - dataclass signature problems
            raise ConfigError(f"{where}: {exc}") from exc
        config.validate(where)
        return config

    def validate(self, where: str) -> None:
        """Check relations between values; raise ConfigError naming the key."""


def require_positive_int(where: str, key: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}: {key} must be a positive integer, got {value!r}.")


def require_non_negative_int(where: str, key: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where}: {key} must be a non-negative integer, got {value!r}.")
