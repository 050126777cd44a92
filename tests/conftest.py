import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV_DATA = ROOT / "data" / "development.json"


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def dev_records():
    return [json.loads(line) for line in DEV_DATA.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def minilm():
    from shopbench import embeddings

    return embeddings.load_model(embeddings.packaged_minilm_path())
