import json

from shopbench import spec
from tests.conftest import ROOT


def test_aicrowd_json_names_a_track_and_asks_for_a_gpu():
    config = json.loads((ROOT / "aicrowd.json").read_text())
    assert set(config) == {"challenge_id", "authors", "gpu", "description"}
    assert config["challenge_id"] in spec.TRACK_BY_ID and config["gpu"] is True


def test_submission_requirements_pin_vllm():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("vllm==") for line in lines)


def test_dev_data_is_the_shared_copy():
    shared = ROOT.parent / "shared" / "data" / "development.json"
    if shared.exists():  # beside a checkout of this workplace; the repository's copy is what ships
        assert shared.read_bytes() == (ROOT / "data" / "development.json").read_bytes()
