"""Built-in recipes: TOML files shipped in this package, listed by name."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..train.config import Config, ConfigError, apply_overrides, parse_toml, validate_config


def recipe_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__package__).iterdir() if p.name.endswith(".toml"))


def recipe_text(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.toml").read_text(encoding="utf-8")


def describe_recipes() -> dict[str, str]:
    return {
        name: parse_toml(recipe_text(name), name).get("run", {}).get("description", "")
        for name in recipe_names()
    }


def load_recipe(recipe: str, overrides: list[str] = ()) -> tuple[Config, str]:
    """A built-in recipe name or a path to a TOML file, with ``section.key=value`` overrides
    applied, validated. Returns ``(config, run name)``."""
    path = Path(recipe)
    if recipe in recipe_names():
        data, name = parse_toml(recipe_text(recipe), recipe), recipe
    elif path.suffix == ".toml" and path.is_file():
        data, name = parse_toml(path.read_text(encoding="utf-8"), str(path)), path.stem
    else:
        raise ConfigError(
            f"recipe {recipe!r}: neither a built-in recipe ({', '.join(recipe_names())}) "
            "nor an existing .toml file"
        )
    config = validate_config(apply_overrides(data, list(overrides)))
    return config, config.run.name or name
