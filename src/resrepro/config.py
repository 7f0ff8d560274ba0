"""Configuration: load, validate against the JSON schema, resolve per-model recipes.

The schema (``schemas/config.schema.yaml``, also reachable as ``workflow/schemas/``) is the single
definition of every key. :func:`validate` reports *all* problems at once, each naming the key and
what is allowed, and fills the schema's defaults. :func:`read_file` refuses duplicate keys and names the
file and line of any YAML error; :func:`for_snakemake` reads a Snakemake run's config files that way and
each ``--config KEY=VALUE`` by the schema's types (:func:`from_command_line`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from . import ResreproError, fmt
from .cifar10 import CLASSES, TEST_SIZE, TRAIN_SIZE

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


# A float that PyYAML (YAML 1.1) reads as text: an exponent without a dot or without a sign, e.g. 5e-4.
_EXPONENT_TEXT = re.compile(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$")


def _is_float_text(x: Any) -> bool:
    return isinstance(x, str) and bool(_EXPONENT_TEXT.match(x)) and not isinstance(yaml.safe_load(x), float)


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
        hint = ""
        if _is_float_text(inst):
            hint = f" (YAML reads {inst!r} as text, not a number: write 5.0e-4 style, a dot and a signed exponent)"
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
    """Return a validated copy of ``config`` with defaults filled; raise ConfigError otherwise.

    Whole-number floats where the schema wants an integer (``epochs: 3.0``) become integers; NaN and
    infinity are refused for every number; sizes are checked against CIFAR-10's images.
    """
    return _validate(config, {})


def _validate(config: dict, problems: dict) -> dict:
    """:func:`validate`, reporting also ``problems`` ({key path: message}) found while reading the config."""
    import jsonschema

    if not isinstance(config, dict):
        raise ConfigError(f"the configuration must be a mapping of keys to values, got {type(config).__name__}")
    problems = dict(problems)
    config = _walk(config, schema(), (), lambda v, sub, path: _number(v, sub, path, problems))
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    lines = dict(problems)
    for e in errors:
        if tuple(e.absolute_path) not in problems:  # one message per key: ours names the cause
            lines.setdefault((*e.absolute_path, e.validator, len(lines)), _describe(e))
    out = copy.deepcopy(config)
    _fill_defaults(out, schema())
    if isinstance(out.get("data"), dict):
        lines.update(_size_problems(out["data"]))
    if lines:
        text = "\n".join(f"  - {m}" for m in lines.values())
        raise ConfigError(f"invalid configuration ({fmt.count(len(lines), 'problem')}); no job was started:\n{text}")
    return out


# --- walking a config along its schema -----------------------------------------------------------------
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}


def _resolve(sub: dict | None) -> dict | None:
    """``sub`` with its ``$ref`` (into this schema) followed."""
    while isinstance(sub, dict) and "$ref" in sub:
        node: Any = schema()
        for part in sub["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        sub = {**node, **{k: v for k, v in sub.items() if k != "$ref"}}
    return sub


def _types(sub: dict) -> set[str]:
    """The JSON types a schema node allows (read from its enum where it names no type)."""
    t = sub.get("type")
    if t is None:
        return {_JSON_TYPES[type(v)] for v in sub.get("enum", ())}
    return {t} if isinstance(t, str) else set(t)


def _child(sub: dict | None, key: Any) -> dict | None:
    """The schema of ``key`` (a property name or a list index) under ``sub``; None where it has none."""
    if sub is None:
        return None
    if isinstance(key, int):
        return _resolve(sub.get("items"))
    if key in sub.get("properties", {}):
        return _resolve(sub["properties"][key])
    extra = sub.get("additionalProperties")
    return _resolve(extra) if isinstance(extra, dict) else None


def _walk(value: Any, sub: dict | None, path: tuple, leaf) -> Any:
    """A copy of ``value`` with ``leaf(scalar, schema, path)`` applied to each scalar the schema describes."""
    if sub is None:
        return value  # an unknown key: the schema's additionalProperties names it
    if isinstance(value, dict):
        return {k: _walk(v, _child(sub, k), (*path, k), leaf) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, _child(sub, i), (*path, i), leaf) for i, v in enumerate(value)]
    return leaf(value, sub, path)


def _number(value: Any, sub: dict, path: tuple, problems: dict) -> Any:
    """NaN and infinity refused; a whole-number float where only an integer is allowed made an integer."""
    if isinstance(value, float) and not math.isfinite(value):
        problems[path] = f"'{_key(path)}': {value!r} is not allowed; write a finite number"
    elif isinstance(value, float) and value.is_integer() and "integer" in _types(sub) and "number" not in _types(sub):
        return int(value)
    return value


def _size_problems(data: dict) -> dict:
    """Sizes larger than CIFAR-10 holds (50,000 training images, of which val_size are held out;
    10,000 test images), or not a multiple of the classes: refused here rather than inside a job."""
    k = len(CLASSES)
    val = data.get("val_size")
    limits = {"val_size": (TRAIN_SIZE - k, f"the {TRAIN_SIZE:,} training images must keep {k} for training")}
    if _is_count(val):
        limits["train_subset"] = (TRAIN_SIZE - val, f"{TRAIN_SIZE:,} training images minus val_size {val}")
        limits["val_subset"] = (val, f"val_size, the {val} images held out for validation")
    limits["test_subset"] = (TEST_SIZE, f"the {TEST_SIZE:,} test images")
    out = {}
    for name, (limit, why) in limits.items():
        n = data.get(name)
        if not _is_count(n):
            continue
        if n > limit:
            out[("data", name)] = f"'data.{name}': {n} is more than there is: at most {limit} ({why})"
        elif n % k:
            near = max(k, round(n / k) * k)
            out[("data", name)] = (
                f"'data.{name}': {n} is not a multiple of the {k} classes, so they cannot be equally "
                f"represented; use a multiple of {k} (e.g. {near})"
            )
    return out


def _is_count(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n > 0


# --- reading config files -----------------------------------------------------------------------------
class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last silently)."""


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (also on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=deep))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_file(path: str | Path) -> dict:
    """One config file as a mapping; a YAML error or a duplicate key names the file and the line."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found; pass an existing file") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context = e.context and (f"{e.context} (line {e.context_mark.line + 1})" if e.context_mark else e.context)
        what = "; ".join(x for x in (context, e.problem) if x)
        raise ConfigError(f"config file {path} is not valid YAML{where}: {what}; fix it there") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}; fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of keys to values, got {type(data).__name__}")
    return data


def load(*paths: str | Path) -> dict:
    """Load YAML files (later ones override earlier ones, mappings merged deeply) and validate."""
    merged: dict = {}
    for p in paths:
        merged = merge(merged, read_file(p))
    return validate(merged)


# --- Snakemake: its config files read again (strictly), and --config KEY=VALUE read by the schema ------
_NULL_TEXT = ("", "null", "Null", "NULL", "~")
_FLOAT_TEXT = {".nan": "nan", ".inf": "inf", "+.inf": "inf", "-.inf": "-inf"}


def from_command_line(args: list[str], problems: dict) -> dict:
    """``--config`` KEY=VALUE pairs as the schema types them, read from the text the user typed.

    Snakemake hands over ``seeds=[0,1]`` as ``['0', '1']``, ``train={"epochs": 2}`` as
    ``{'epochs': '2'}`` (YAML's BaseLoader) and ``5e-4`` as a float. Here each value is read again from
    its text: where the schema wants a number, an integer, a boolean or null, the text is read as that
    (a whole-number text such as ``3.0`` as an integer); a list or mapping is read as YAML flow syntax;
    one value where a list is expected is a list of one; ``null`` (or nothing) is null where null is
    allowed. A value that cannot be read as its type goes to ``problems``, naming the key.
    """
    out: dict = {}
    for arg in args:
        key, _, text = str(arg).partition("=")
        sections = [s for s, sub in schema()["properties"].items() if key in sub.get("properties", {})]
        if key not in schema()["properties"] and sections:  # Snakemake refuses dots in keys: train.lr=...
            write = " or ".join(f"'{s}={{\"{key}\": {text}}}'" for s in sections)
            problems[(key,)] = f"unknown key {key!r} at the top level; for {sections[0]}.{key} write {write}"
            continue
        value = _from_text(text, _child(schema(), key), (key,), problems)
        out = merge(out, {key: value})
    return out


def _from_text(text: str, sub: dict | None, path: tuple, problems: dict) -> Any:
    types = _types(sub) if sub is not None else {"object"}
    if not types & {"object", "array"}:
        return _scalar(text, sub, path, problems)
    try:
        value = yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 (structure only, every scalar a string)
    except yaml.YAMLError as e:
        problems[path] = f"'{_key(path)}': cannot read {text!r} from --config as YAML flow syntax ({e})"
        return text
    return _from_tree(value, sub, path, problems)


def _from_tree(value: Any, sub: dict | None, path: tuple, problems: dict) -> Any:
    if sub is None:
        return value
    types = _types(sub)
    if "array" in types and not isinstance(value, list) and value is not None:
        value = [value]
    if isinstance(value, dict):
        return {k: _from_tree(v, _child(sub, k), (*path, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_tree(v, _child(sub, i), (*path, i), problems) for i, v in enumerate(value)]
    if isinstance(value, str):
        return _from_text(value, sub, path, problems) if not types & {"object"} else value
    return value


def _scalar(text: str, sub: dict, path: tuple, problems: dict) -> Any:
    if text.strip()[:1] in ("'", '"'):  # YAML quoting, as Snakemake's API writes a text value: 'abc'
        try:
            unquoted = yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 (every scalar a string)
        except yaml.YAMLError:
            unquoted = None
        text = unquoted if isinstance(unquoted, str) else text
    types, enum = _types(sub), sub.get("enum")
    if "null" in types and text in _NULL_TEXT:
        return None
    if "string" in types and (enum is None or text in enum):
        return text
    if "boolean" in types and text.lower() in ("true", "false"):
        return text.lower() == "true"
    number = _FLOAT_TEXT.get(text.lower(), text)
    if "integer" in types:
        try:
            return int(number)
        except ValueError:
            try:
                if float(number).is_integer():
                    return int(float(number))
            except (ValueError, OverflowError):
                pass
    if "number" in types:
        try:
            return float(number)
        except ValueError:
            pass
    if "string" in types or not types:
        return text  # not in the enum: the schema's check lists the allowed values
    want = " or ".join(sorted(types))
    problems[path] = f"'{_key(path)}': cannot read {text!r} (from --config) as {want}"
    return text


def resolve(files: list, args: list[str]) -> dict:
    """The validated config of a Snakemake run: ``files`` merged in order, then ``--config`` ``args``."""
    merged: dict = {}
    for p in files:
        merged = merge(merged, read_file(p))
    problems: dict = {}
    overrides = from_command_line(list(args or ()), problems)
    return _validate(merge(merged, overrides), problems)


def for_snakemake(workflow) -> dict:
    """:func:`resolve` for a Snakefile: the Snakefile's ``configfile:`` unless replaced, then every
    ``--configfile`` (each read strictly again: duplicate keys refused with file and line), then ``--config``.
    """
    settings = workflow.config_settings
    given = [str(p) for p in settings.configfiles]
    own = [] if settings.replace_workflow_config else [os.path.abspath(p) for p in workflow.configfiles[len(given) :]]
    return resolve([*own, *given], list(settings.config_args or ()))


def check_file(path: str | Path) -> None:
    """Read ``path`` (if it exists) strictly, so that a YAML error names its file and line before
    Snakemake's own message (which names neither)."""
    if Path(path).exists():
        read_file(os.path.abspath(path))


def merge(base: dict, over: dict) -> dict:
    """Deep-merge ``over`` into a copy of ``base`` (mappings merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


# recipe keys that decide where and how fast a training runs (CPU threads, trainings per GPU: train.pack), not
# what it trains: a checkpoint or an archived job made with other values is still the same training
HOW_NOT_WHAT = ("threads", "pack")


def what_trains(recipe: dict) -> dict:
    """The recipe without :data:`HOW_NOT_WHAT`: what decides the training itself."""
    return {k: v for k, v in recipe.items() if k not in HOW_NOT_WHAT}


def recipe_for(config: dict, model: str) -> dict:
    """The training recipe of one model: the train section with that model's overrides applied."""
    return merge(config["train"], config.get("overrides", {}).get(model, {}))


def digest(obj: Any) -> str:
    """sha256 of the canonical JSON form of ``obj`` (stable across key order)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
