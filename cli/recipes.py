"""`seqkit train --config FILE`: a run's recipe kept in a file, TOML or JSON, its keys the options
of seqkit train with underscores (batch_size = 32, time = 10, corpus = "poems/"). The file's
values become the options' defaults, so that the command line wins. A run's config.json is a
recipe too: its "config" (TrainConfig's fields, the tokenizer's in "text", `minutes` for
--time, `embed` null for --one-hot) repeats the run, its seed included. Paths in a file are
relative to the file's folder. An unknown key or a bad value is one line naming both and the
file."""
import json
import os
import sys

import click

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the backport, a dependency there only (pyproject.toml)
    import tomli as tomllib

NOT_IN_A_RECIPE = {"resume_dir": "--resume", "moved_corpus": "--corpus", "config": "--config"}
ALIASES = {"minutes": "time"}  # TrainConfig's field -> the option's key
PATHS = ("corpus", "out", "init_from", "val_file")


def read_config(ctx, param, path):
    """The eager callback of --config: the file's options as ctx.default_map."""
    if path is None:
        return None
    given = read_file(path)
    keys = {key_of(p): p for p in ctx.command.params if p.name not in NOT_IN_A_RECIPE}
    defaults = {}
    for key, value in given.items():
        key = ALIASES.get(key, key)
        target = keys.get(key)
        if target is None:
            why = ("is given on the command line, not in a recipe" if key in ("resume", "config") else
                   "is not an option of seqkit train (keys are its options with underscores: batch_size, time, ...)")
            raise click.UsageError(f"{path}: the key {key!r} {why}")
        if value is None:
            continue
        defaults[target.name] = convert(ctx, path, key, target, relative(path, key, value))
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return path


def read_file(path):
    """The options of a recipe file, flat: {key: value}."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise click.UsageError(f"--config {path}: {error.strerror}") from None
    try:
        if path.endswith(".toml") or not data.lstrip().startswith(b"{"):
            given = tomllib.loads(data.decode("utf-8"))
        else:
            given = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        kind = "TOML" if path.endswith(".toml") or not data.lstrip().startswith(b"{") else "JSON"
        raise click.UsageError(f"{path} is not valid {kind} ({error})") from None
    if not isinstance(given, dict):
        raise click.UsageError(f"{path} holds no table of options")
    if "config" in given and "seqkit_version" in given:  # a run's config.json
        given = run_recipe(given["config"])
    if isinstance(given.get("text"), dict):
        given = {**{k: v for k, v in given.items() if k != "text"}, **given["text"]}
    return given


def run_recipe(config):
    """A run's TrainConfig.to_dict() as options: the embedding as --embed or --one-hot."""
    config = dict(config)
    if "embed" in config:
        embed = config.pop("embed")
        if embed is None:
            config["one_hot"] = True
        elif embed != "auto":
            config["embed"] = embed
    return config


def key_of(param):
    """An option's key in a recipe: its long flag with underscores (--batch-size: batch_size)."""
    flags = [opt for opt in param.opts if opt.startswith("--")]
    return max(flags, key=len)[2:].replace("-", "_") if flags else param.name


def relative(path, key, value):
    """A path given in the file, relative to the file's folder."""
    if key not in PATHS:
        return value
    folder = os.path.dirname(os.path.abspath(path))

    def place(p):
        return p if not isinstance(p, str) or os.path.isabs(p) else os.path.join(folder, p)
    return [place(p) for p in value] if isinstance(value, list) else place(value)


def convert(ctx, path, key, param, value):
    """value as the option takes it, or one line naming the key, the value and the file."""
    def bad(why):
        return click.UsageError(f"{path}: {key} = {json.dumps(value)} is not valid: {why}")
    if getattr(param, "is_flag", False):
        if not isinstance(value, bool):
            raise bad("give true or false")
        return value
    if param.nargs == -1:
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("give a path or a list of paths")
        return value
    if isinstance(value, (list, dict)) or isinstance(value, bool) and param.type is not click.BOOL:
        raise bad(f"give one {param.type.name} value")
    try:
        return param.type.convert(value, param, ctx)
    except click.BadParameter as error:
        raise bad(error.message) from None
