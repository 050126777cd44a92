import hashlib
import json

from shopbench import spec
from tests.conftest import ROOT


def test_aicrowd_json_names_a_track_and_asks_for_a_gpu():
    config = json.loads((ROOT / "aicrowd.json").read_text())
    assert set(config) == {"challenge_id", "authors", "gpu", "description"}
    assert config["challenge_id"] in spec.TRACK_BY_ID and config["gpu"] is True


# sha256 of the official 96-question development set (the starter kit's data/development.json).
OFFICIAL_DEV_SHA256 = "a73043af0d7a19ac5a769e27264084600c83fe71babc2fde4fbbb2269fc462f5"


def test_dev_data_is_the_official_file():
    assert hashlib.sha256(spec.DEV_DATA.read_bytes()).hexdigest() == OFFICIAL_DEV_SHA256
    rows = [json.loads(line) for line in spec.DEV_DATA.read_text().splitlines()]
    assert len(rows) == 96 and len({r["task_name"] for r in rows}) == 18


def test_engine_classes_are_constructed_only_in_models_engines():
    """Every other module builds engines through models/engines/registry.py (by name)."""
    import re

    from models.engines import registry

    names = "|".join(kind.class_name for kind in registry.ENGINES.values())
    construction = re.compile(rf"(?<!\w)(?:{names})\s*\(")
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[:2] == ("models", "engines") or relative.parts[0].startswith("."):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if construction.search(line) and not line.lstrip().startswith("class "):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []
