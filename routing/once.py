"""`once`: a property computed on its first reading and kept in the instance's dict.

`functools.cached_property` does the same, but on Python 3.11 it takes a lock on every first
reading (3.12 dropped the lock); an anatomy and the classifier's evidence compute about nine
parts a prompt, and the lock cost as much as some of them. Parts are pure functions of the
prompt, so two threads reading one part at once compute the same value, and either may be kept.
"""
from __future__ import annotations


class once:  # noqa: N801 (a decorator, named like property)
    def __init__(self, function):
        self.function, self.name, self.__doc__ = function, function.__name__, function.__doc__

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.function(instance)
        return value
