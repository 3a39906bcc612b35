"""Base for YAML run files: strict pydantic models (``extra="forbid"``) whose errors name the offending
key, suggest the closest valid one ("did you mean ...?"), and come out as one :class:`ConfigError` line."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError

M = TypeVar("M", bound="StrictModel")


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True)


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """Walk the location of an error to the sub-model that owns the last key."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        current = _first_model(ann)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _first_model(ann: Any) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def format_validation_error(model: type[BaseModel], exc: ValidationError, source: str = "") -> str:
    """Turn a pydantic error into one readable line, with a 'did you mean' hint for unknown keys."""
    msgs = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        where = ".".join(str(p) for p in loc) or "<root>"
        if err.get("type") == "extra_forbidden":
            owner = _model_at(model, loc)
            key = str(loc[-1])
            hint = ""
            if owner is not None:
                close = difflib.get_close_matches(key, list(owner.model_fields), n=1, cutoff=0.5)
                hint = (
                    f"; did you mean {close[0]!r}?"
                    if close
                    else f"; valid keys: {', '.join(owner.model_fields)}"
                )
            msgs.append(f"unknown key {where!r}{hint}")
        else:
            msgs.append(f"{where}: {err.get('msg')}")
    prefix = f"{source}: " if source else ""
    return prefix + "invalid run file: " + "; ".join(msgs)


def load_yaml_model(model: type[M], path: str | Path) -> M:
    """Read a YAML file and validate it against ``model``; every failure is a one-line ConfigError."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"run file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return validate_model(model, data, source=str(path))


def validate_model(model: type[M], data: dict, source: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(model, exc, source)) from None
