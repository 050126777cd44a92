"""`python run.py submit --track N --tag NAME [--push]`.

Sets aicrowd.json's challenge_id for the track, runs every pre-push check, commits
aicrowd.json if it changed and creates the `submission-NAME` tag. Only `--push` touches
the remote; without it the push commands are printed. When a check fails nothing is
changed, and the problems are listed with the commands that would run.
"""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from shopbench import spec
from submission import aicrowd, checks

TAG_PREFIX = "submission-"


def plan(root: Path, track: spec.Track, tag: str) -> tuple[list[list[str]], list[list[str]]]:
    """(local commands, push commands) for submitting `track` as `tag`."""
    name = tag if tag.startswith(TAG_PREFIX) else TAG_PREFIX + tag
    local = []
    if aicrowd.path(root).read_text() != aicrowd.for_track(track, root):
        local += [["git", "commit", "-m", f"Submit track {track.number} ({track.challenge_id})", "--", "aicrowd.json"]]
    local += [["git", "tag", name]]
    return local, [["git", "push", "origin", "HEAD"], ["git", "push", "origin", name]]


def submit(root: Path, track: spec.Track, tag: str, push: bool, weights_dir: Path | None = None, out=print) -> int:
    local, remote = plan(root, track, tag)
    name = local[-1][-1]
    exists = subprocess.run(["git", "rev-parse", "-q", "--verify", f"refs/tags/{name}"], cwd=root, capture_output=True)
    if exists.returncode == 0:
        out(f"error: tag {name} already exists")
        return 2
    before = aicrowd.path(root).read_text()
    aicrowd.path(root).write_text(aicrowd.for_track(track, root))
    found = checks.problems(root, track, weights_dir)
    if found:
        aicrowd.path(root).write_text(before)
        out(f"not submitting track {track.number}: {len(found)} problem(s)")
        for problem in found:
            out(f"  problem: {problem}")
        out("once they are fixed, these commands will run:")
        for command in local + remote:
            out(f"  {shlex.join(command)}")
        return 1
    if not _run_all(root, local, out):
        return 2
    if not push:
        out("the remote is untouched; to submit, run:")
        for command in remote:
            out(f"  {shlex.join(command)}")
        return 0
    return 0 if _run_all(root, remote, out) else 2


def _run_all(root: Path, commands: list[list[str]], out) -> bool:
    """Run the commands in order, stopping at the first failure (reported)."""
    for command in commands:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True)
        if done.returncode != 0:
            out(f"error: {shlex.join(command)} failed: {done.stderr.strip()}")
            return False
        out(f"ran: {shlex.join(command)}")
    return True
