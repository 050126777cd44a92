"""Whether an output path would touch an input: the one check every command that writes uses.

Paths are compared as the file system sees them: `os.path.samefile` when both exist (hard
links, a link to the input, a different spelling of the same file), else the real paths with
every symbolic link followed. An output inside an input folder (or an input inside an output
folder) counts as overlapping too: writing there changes what the command reads.
"""
from __future__ import annotations

import os
from enum import Enum


class Overlap(Enum):
    """How an output path meets an input path; the value completes "OUTPUT ... INPUT"."""

    SAME = "is the same file as"
    INSIDE = "is inside"  # the output lies in an input folder
    CONTAINS = "contains"  # the input lies in the output folder


def _real(path) -> str:
    return os.path.normcase(os.path.realpath(os.path.abspath(os.fspath(path))))


def _same_existing(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one is missing or unreadable; the real paths decide
        return False


def _within(inner: str, outer: str) -> bool:
    return os.path.commonpath([inner, outer]) == outer and inner != outer


def overlap(output, source) -> Overlap | None:
    """How `output` meets `source` (None when writing one cannot change the other)."""
    if _same_existing(output, source):
        return Overlap.SAME
    real_output, real_source = _real(output), _real(source)
    if real_output == real_source:
        return Overlap.SAME
    if _within(real_output, real_source):
        return Overlap.INSIDE
    if _within(real_source, real_output):
        return Overlap.CONTAINS
    return None
