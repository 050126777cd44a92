"""aicrowd.json: which track a push of a `submission-*` tag is judged on."""
from __future__ import annotations

import json
from pathlib import Path

from models.settings import aicrowd_json as path
from models.settings import read_aicrowd_json as read
from shopbench import spec
from shopbench.spec import ROOT

KEYS = ("challenge_id", "authors", "gpu", "description")
DESCRIPTION = (
    "Qwen2-72B-Instruct with LoRA ensemble + wise-ft, AWQ 4-bit, vLLM on 4x T4; "
    "task routing and constrained decoding"
)


def problems(root: Path, track: spec.Track) -> list[str]:
    try:
        config = read(root)
    except ValueError as exc:  # the message names the file and what is wrong
        return [str(exc)]
    found = []
    missing = [key for key in KEYS if key not in config]
    if missing:
        found.append(f"{path(root)}: missing {', '.join(missing)}")
    if config.get("challenge_id") != track.challenge_id:
        found.append(
            f"{path(root)}: challenge_id is {config.get('challenge_id')!r}, track {track.number} is "
            f"{track.challenge_id!r} (python run.py submit --track {track.number} sets it)"
        )
    if config.get("gpu") is not True:
        found.append(f"{path(root)}: gpu must be true (the model needs the 4 T4s)")
    if not isinstance(config.get("authors"), list) or not config.get("authors"):
        found.append(f"{path(root)}: authors must be a non-empty list")
    return found


def for_track(track: spec.Track, root: Path = ROOT) -> str:
    """aicrowd.json's text for `track`, keeping its authors and description."""
    try:
        current = read(root)
    except ValueError:
        current = {}
    config = {
        "challenge_id": track.challenge_id,
        "authors": current.get("authors") or ["shopbench-submission"],
        "gpu": True,
        "description": current.get("description") or DESCRIPTION,
    }
    return json.dumps(config, indent=2) + "\n"
