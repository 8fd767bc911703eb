"""Checks at the library's edges, written once: counts, dtypes and arrays, each failing with a
message that names the argument, what came and what to do."""
import dataclasses
import os
import stat
import types

import numpy as np

from seqkit.errors import CheckpointError, OptionError, option

DTYPES = (np.float32, np.float64)


def is_count(value, minimum=1):
    """True for a Python or numpy integer (not a bool) of at least `minimum`."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum


def check_count(name, value, minimum=1):
    """int(value), after checking it is an integer of at least `minimum` (ValueError otherwise)."""
    if not is_count(value, minimum):
        kind = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
        raise OptionError(f"{option(name)} must be {kind}, got {value!r}", field=name, value=value)
    return int(value)


def check_dtype(dtype) -> np.dtype:
    """np.dtype of `dtype`, which must be float32 or float64."""
    dtype = np.dtype(dtype)
    if dtype not in DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def check_array(name, array, shape, dtype):
    """`array` as a C-contiguous ndarray, after checking its shape (None matches any size) and
    that its dtype is exactly `dtype`: seqkit never casts inputs behind the caller's back."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(array).__name__}")
    if array.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, array.shape)):
        expected = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} has shape {array.shape}, expected {expected}")
    if array.dtype != dtype:
        raise TypeError(f"{name} has dtype {array.dtype} but the parameters are {dtype}: "
                        f"pass {name}.astype(np.{dtype}) or build the model with dtype=np.{array.dtype}")
    return np.ascontiguousarray(array)


def copy_into(targets, arrays, what):
    """Copy arrays[name] into each targets[name] in place, after checking that the names, shapes
    and dtypes all match exactly; CheckpointError names `what` and the first mismatch."""
    if set(arrays) != set(targets):
        raise CheckpointError(f"{what} does not match: missing {sorted(set(targets) - set(arrays))[:3]}, "
                              f"unexpected {sorted(set(arrays) - set(targets))[:3]}")
    for name, target in targets.items():
        if arrays[name].shape != target.shape or arrays[name].dtype != target.dtype:
            raise CheckpointError(f"{what}: {name} is {arrays[name].dtype} {arrays[name].shape}, "
                                  f"expected {target.dtype} {target.shape}")
    for name, target in targets.items():
        target[...] = arrays[name]


def check_regular_file(path, error, what="file"):
    """Raise `error` (a seqkit.errors type) naming path unless it is a regular file (a device,
    a FIFO or a directory would be read without end, block, or fail with an OS message)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as failure:
        raise error(f"{path}: the {what} could not be read ({failure.strerror or failure})", file=path) from None
    if not stat.S_ISREG(mode):
        kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        raise error(f"{path} is {kind}, not a {what}: give a regular file", file=path)


def check_finite(arrays, what, error):
    """Raise `error` naming `what` and the first array (by name) with a NaN or an infinity:
    weights that are not finite sample noise and evaluate to nan, and training on them trains
    on nan."""
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = np.count_nonzero(~np.isfinite(array))
            raise error(f"{what}: {name} holds {bad:,} values that are not finite (NaN or infinite): these weights "
                        f"cannot be used; load another checkpoint, or train from fresh weights")


def check_field_types(instance):
    """Raise OptionError naming the first field of a dataclass instance whose value is not of its
    annotated type (str, int, float, bool, a union of them with None, a dataclass): a
    configuration read from a file may hold anything."""
    for field in dataclasses.fields(instance):
        if field.init and not _of_type(getattr(instance, field.name), field.type):
            value = getattr(instance, field.name)
            raise OptionError(f"{option(field.name)} must be {_described(field.type)}, got {value!r}",
                              field=field.name, value=value)


def _of_type(value, annotation):
    if isinstance(annotation, types.UnionType):
        return any(_of_type(value, member) for member in annotation.__args__)
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation) if isinstance(annotation, type) else True


def _described(annotation):
    members = annotation.__args__ if isinstance(annotation, types.UnionType) else (annotation,)
    names = {str: "text", int: "an integer", float: "a number", bool: "true or false", type(None): "none"}
    return " or ".join(names.get(member, getattr(member, "__name__", str(member))) for member in members)
