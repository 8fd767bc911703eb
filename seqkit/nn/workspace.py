"""Arrays that one training step leaves for the next to reuse.

A training step needs hundreds of megabytes of activations and gradients of the same shapes
every time. Allocated afresh, each large array is mapped from the operating system and
zeroed page by page on first touch, which costs a small model a large share of its step
(docs/performance.md). A Workspace hands out the same arrays again instead, by name.

The arrays a forward pass writes into a Workspace are its cache for backward: a later
forward with the same Workspace overwrites them. The Trainer runs forward, backward, forward,
backward... with its own; pass none (the default) to get fresh arrays from every call. Every
array starts on a cache line (seqkit.cells.recurrence.aligned_empty), as the recurrences'
vector code wants them.
"""
from seqkit.cells.recurrence import aligned_empty


class Workspace:
    """Named arrays, kept between calls; `child` gives a nested Workspace per layer."""

    def __init__(self):
        self._arrays = {}
        self._children = {}

    def empty(self, name, shape, dtype):
        """The array called `name`, uninitialised, reallocated only if shape or dtype changed."""
        array = self._arrays.get(name)
        if array is None or array.shape != tuple(shape) or array.dtype != dtype:
            array = self._arrays[name] = aligned_empty(shape, dtype)
        return array

    def child(self, name):
        if name not in self._children:
            self._children[name] = Workspace()
        return self._children[name]


class Fresh(Workspace):
    """A Workspace that keeps nothing: every array is new."""

    def empty(self, name, shape, dtype):
        return aligned_empty(shape, dtype)

    def child(self, name):
        return self


FRESH = Fresh()
