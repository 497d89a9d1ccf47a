"""Named components that recipes refer to, built from config keys checked against signatures.

Any ``name`` may also be an import path ``package.module:callable`` (a timm model, your own data
reader), so that a user plugs a component in without editing contrastkit.

A registry maps a name to a callable, or to a lazy ``"module:attribute"`` string so that optional
dependencies are imported only when a recipe uses them. Adding a component is one line, e.g.::

    ENCODERS.register("hf_text", "contrastkit.encoders.text:HFTextEncoder", "Hugging Face text encoder")
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..train.config import ConfigError


@dataclass
class Entry:
    target: Callable | str
    description: str


class Registry:
    def __init__(self, section: str):
        self.section = section
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, target: Callable | str, description: str = "") -> None:
        if name in self._entries:
            raise ValueError(f"name: {self.section} component {name!r} is registered already")
        self._entries[name] = Entry(target, description)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        return {name: self._entries[name].description for name in self.names()}

    def get(self, name: str) -> Callable:
        entry = self._entries.get(name)
        if entry is None and is_import_path(name):
            return import_component(f"{self.section}.name", name)
        if entry is None:
            raise ConfigError(f"{self.section}.name = {name!r}: unknown; expected one of {self.names()}")
        if isinstance(entry.target, str):
            module, _, attribute = entry.target.partition(":")
            try:
                entry.target = getattr(importlib.import_module(module), attribute)
            except (ImportError, AttributeError) as error:
                raise ConfigError(f"{self.section}.name = {name!r}: cannot be loaded ({error})") from None
        return entry.target

    def check(self, name: str, options: dict) -> None:
        """Check the component name and its keys without building it."""
        check_options(self.get(name), self.section, options)

    def build(self, name: str, options: dict, context: dict | None = None):
        """Call component ``name`` with ``options`` (from the config; unknown keys are rejected
        naming the key) plus any ``context`` values its signature accepts and the config did not set."""
        return build_call(self.get(name), self.section, options, context)


def is_import_path(name: str) -> bool:
    """``package.module:callable``: a user component named by where it lives."""
    module, sep, attribute = name.partition(":")
    return bool(sep and module and attribute) and all(p.isidentifier() for p in module.split(".")) \
        and all(p.isidentifier() for p in attribute.split("."))


def import_component(key: str, name: str) -> Callable:
    """The callable at ``package.module:callable``; a failure is one line naming ``key``."""
    module, _, attribute = name.partition(":")
    try:
        target = importlib.import_module(module)
        for part in attribute.split("."):
            target = getattr(target, part)
    except Exception as error:
        raise ConfigError(f"{key} = {name!r}: cannot be imported ({type(error).__name__}: {error})") from None
    if not callable(target):
        raise ConfigError(f"{key} = {name!r}: not callable (got {type(target).__name__})")
    return target


KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def accepted_keywords(target: Callable) -> tuple[list[str], bool]:
    """Keyword arguments ``target`` accepts, following ``**options`` of a class's ``__init__`` up
    its base classes (a loss passing ``**options`` to ``ContrastiveLoss``); the flag says whether
    any keyword is accepted in the end."""
    chain = (
        [c.__init__ for c in target.__mro__ if "__init__" in vars(c)]
        if isinstance(target, type)
        else [target]
    )
    named: list[str] = []
    for function in chain:
        parameters = inspect.signature(function).parameters
        named += [
            n for n, p in parameters.items() if p.kind in KEYWORD_KINDS and n != "self" and n not in named
        ]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return named, False
        if function is object.__init__:
            break
    return named, not isinstance(target, type)


def check_options(target: Callable, section: str, options: dict) -> tuple[list[str], bool]:
    """Reject config keys that ``target`` does not accept, naming the key and the accepted ones."""
    named, accepts_any = accepted_keywords(target)
    if not accepts_any:
        expected = f"one of {named}" if named else "none: it takes no extra options"
        for key, value in options.items():
            if key not in named:
                raise ConfigError(
                    f"{section}.{key} = {value!r}: unknown key for "
                    f"{getattr(target, '__name__', target).lstrip('_')}; its own keys: {expected} "
                    f"(section keys: `contrastkit recipes --keys`)"
                )
    return named, accepts_any


def build_call(target: Callable, section: str, options: dict, context: dict | None = None):
    parameters = inspect.signature(target).parameters
    named, accepts_any = check_options(target, section, options)
    for key, value in options.items():
        if key.endswith("_path") and value is not None and not Path(str(value)).expanduser().exists():
            raise ConfigError(
                f"{section}.{key} = {value!r}: expected an existing file or folder; this path does not exist"
            )
    kwargs = dict(options)
    for key, value in (context or {}).items():
        if key not in kwargs and (key in named or accepts_any) and value is not None:
            kwargs[key] = value
    missing = [
        n
        for n, p in parameters.items()
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        and n not in kwargs
    ]
    if missing:
        raise ConfigError(f"{section}.{missing[0]}: required key is missing")
    try:
        return target(**kwargs)
    except (ValueError, TypeError) as error:
        message = str(error)
        key = message.split(":", 1)[0].strip()
        if key in kwargs and key in options:
            raise ConfigError(
                f"{section}.{key} = {options[key]!r}: {message.split(':', 1)[1].strip()}"
            ) from None
        raise ConfigError(f"{section} ({getattr(target, '__name__', target)}): {message}") from None


DATA_SOURCES = Registry("data")
VIEWS = Registry("views")
ENCODERS = Registry("encoder")
HEADS = Registry("head")
