"""`python run.py check-submission --track N`: everything that would make a push fail,
found before pushing, each problem on its own line."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from shopbench import spec
from submission import aicrowd

MAX_REPOSITORY_BYTES = 200 * 10**9
# The code the submitted model runs, which must never reach a network.
RUNTIME_CODE = ("models", "routing", "decoding", "prompts", "shopbench")
# Loopback URLs and urllib.parse never leave the machine; a list named `requests` is not the library.
NETWORK_USE = re.compile(
    r"https?://(?!(?:127\.0\.0\.1|localhost)(?:[:/\"' ]|$))|\bimport requests\b|\bfrom requests\b|"
    r"\brequests\.(?:get|post|put|patch|delete|head|request|Session)\(|"
    r"\burllib\b(?!\.parse)|\bhuggingface_hub\b|hf_hub_download|"
    r"snapshot_download|local_files_only\s*=\s*False|trust_remote_code\s*=\s*True"
)
# Runtime modules that talk to a server only when a user asks for it by name: the server
# engines run with SHOPBENCH_ENGINE=openai or chat alone, which the evaluator never sets.
NETWORK_BY_CHOICE = ("models/engines/http_client.py", "models/engines/openai_engine.py", "models/engines/chat_engine.py")
IMPORT_CHECK = (
    "import sys\n"
    "from models.user_config import UserModel\n"
    "heavy = sorted(m for m in ('torch', 'vllm', 'transformers') if m in sys.modules)\n"
    "print('HEAVY', ','.join(heavy))\n"
)


def weights_problems(folder: Path, track: spec.Track, tp: int) -> list[str]:
    from weights.check import check

    if not (folder / "config.json").is_file() and not any(folder.glob("*.safetensors")):
        return [f"{folder}: no production weights (build them: python -m weights build {track.recipe}, "
                f"then commit them through git-lfs)"]
    return [f"weights: {problem}" for problem in check(folder, tp=tp).problems]


def repository_bytes(root: Path) -> int:
    """Files git would push: tracked ones and untracked ones not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, text=True,
    )
    if listed.returncode != 0:
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)
    return sum((root / name).stat().st_size for name in listed.stdout.split("\0") if name and (root / name).is_file())


def import_problems(root: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", IMPORT_CHECK], cwd=root, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"`from models.user_config import UserModel` fails: {last}"]
    heavy = next((line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("HEAVY")), "").strip()
    if heavy:
        return [f"importing models.user_config already imports {heavy}: weights and engines must load in UserModel()"]
    return []


def requirements_problems(root: Path) -> list[str]:
    path = root / "requirements.txt"
    if not path.is_file():
        return [f"{path}: missing (the evaluation image installs it)"]
    if not any(re.match(r"^\s*vllm==\S+", line) for line in path.read_text().splitlines()):
        return [f"{path}: vllm is not pinned with ==, so the image may install an untested version"]
    return []


def network_problems(root: Path) -> list[str]:
    found = []
    for part in RUNTIME_CODE:
        for path in sorted((root / part).rglob("*.py")):
            if path.relative_to(root).as_posix() in NETWORK_BY_CHOICE:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if NETWORK_USE.search(line):
                    found.append(f"{path.relative_to(root)}:{number}: may reach the network: {line.strip()[:100]}")
    return found


def problems(root: Path, track: spec.Track, weights_dir: Path | None = None, tp: int = spec.SUBMISSION_GPUS) -> list[str]:
    folder = weights_dir or root / track.weights_dir
    found = aicrowd.problems(root, track)
    found += weights_problems(folder, track, tp)
    size = repository_bytes(root)
    if size > MAX_REPOSITORY_BYTES:
        found.append(f"repository is {size / 1e9:.1f} GB, over the 200 GB limit")
    found += import_problems(root)
    found += requirements_problems(root)
    found += network_problems(root)
    return found
