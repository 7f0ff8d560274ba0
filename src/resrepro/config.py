"""Configuration: load, validate against the JSON schema, resolve per-model recipes.

The schema (``schemas/config.schema.yaml``, also reachable as ``workflow/schemas/``) is the single
definition of every key. :func:`validate` reports *all* problems at once, each naming the key and
what is allowed, and fills the schema's defaults.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from . import ResreproError, fmt

SCHEMA_PATH = Path(__file__).with_name("schemas") / "config.schema.yaml"


class ConfigError(ResreproError):
    pass


@lru_cache(maxsize=1)
def schema() -> dict:
    """The config schema, with the allowed model names filled in from :mod:`resrepro.catalog`."""
    from . import catalog

    with open(SCHEMA_PATH, encoding="utf-8") as f:
        sch = yaml.safe_load(f)
    sch["$defs"]["model"]["enum"] = catalog.available()
    return sch


def _key(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def _is_float_text(x: Any) -> bool:
    try:
        float(x)
        return isinstance(x, str)
    except (TypeError, ValueError):
        return False


def _describe(err) -> str:
    key = _key(err.absolute_path)
    v, inst = err.validator, err.instance
    if v == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(inst) - set(allowed)) if isinstance(inst, dict) else []
        where = "the top level" if key == "<top level>" else f"'{key}'"
        names = ", ".join(repr(e) for e in extra)
        return f"unknown key {names} under {where}; allowed keys: {', '.join(allowed)}"
    if v == "enum":
        return f"'{key}': {inst!r} is not allowed; allowed values: {', '.join(map(str, err.validator_value))}"
    if v == "type":
        want = err.validator_value if isinstance(err.validator_value, str) else " or ".join(err.validator_value)
        hint = " (YAML reads numbers like 5e-4 as text: write 5.0e-4)" if _is_float_text(inst) else ""
        return f"'{key}': expected {want}, got {type(inst).__name__} {inst!r}{hint}"
    if v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[v]
        return f"'{key}': must be {op} {err.validator_value}, got {inst!r}"
    if v == "pattern" and err.schema.get("description"):
        return f"'{key}': {inst!r} is not allowed: {err.schema['description']}"
    if v == "required":
        return f"{err.message} at {key}; add it (see config.yaml for an example)"
    if v == "propertyNames":
        return f"'{key}': {err.message}"
    return f"'{key}': {err.message}"


def _fill_defaults(instance: dict, sch: dict) -> None:
    for name, sub in sch.get("properties", {}).items():
        if name not in instance and "default" in sub:
            instance[name] = copy.deepcopy(sub["default"])
        elif name not in instance and sub.get("type") == "object" and "properties" in sub:
            instance[name] = {}
        if isinstance(instance.get(name), dict) and sub.get("type") == "object":
            _fill_defaults(instance[name], sub)


def validate(config: dict) -> dict:
    """Return a validated copy of ``config`` with defaults filled; raise ConfigError otherwise."""
    import jsonschema

    if not isinstance(config, dict):
        raise ConfigError(f"the configuration must be a mapping of keys to values, got {type(config).__name__}")
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    if errors:
        lines = "\n".join(f"  - {_describe(e)}" for e in errors)
        raise ConfigError(f"invalid configuration ({fmt.count(len(errors), 'problem')}); no job was started:\n{lines}")
    out = copy.deepcopy(config)
    _fill_defaults(out, schema())
    return out


def load(*paths: str | Path) -> dict:
    """Load YAML files (later ones override earlier ones, mappings merged deeply) and validate."""
    merged: dict = {}
    for p in paths:
        try:
            with open(p, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file {p} not found; pass an existing file") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {p} is not valid YAML: {e}; fix the syntax") from None
        merged = merge(merged, data)
    return validate(merged)


def merge(base: dict, over: dict) -> dict:
    """Deep-merge ``over`` into a copy of ``base`` (mappings merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def recipe_for(config: dict, model: str) -> dict:
    """The training recipe of one model: the train section with that model's overrides applied."""
    return merge(config["train"], config.get("overrides", {}).get(model, {}))


def digest(obj: Any) -> str:
    """sha256 of the canonical JSON form of ``obj`` (stable across key order)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
