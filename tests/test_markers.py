"""The test suite's own conventions (docs/testing.md): declared and documented markers, marks
per test rather than per module, and the Hypothesis profiles."""
import os
import re
import tomllib

from hypothesis import settings

from tests.conftest import PROFILES, ROOT


def test_every_declared_marker_is_documented():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    names = {line.split(":")[0] for line in declared}
    documented = set(re.findall(r"^\| `(\w+)` \|", (ROOT / "docs" / "testing.md").read_text(), re.M))
    assert names == {"engine", "slow", "browser"} and names <= documented


def test_no_module_marks_all_its_tests():
    """A module-wide mark hides a file's pure tests from the quick loop: mark each test."""
    marking = [p.name for p in (ROOT / "tests").glob("test_*.py") if re.search(r"^pytestmark\b", p.read_text(), re.M)]
    assert marking == []


def test_the_loaded_profile_is_the_one_asked_for_and_ci_runs_fewer_examples():
    from tests.test_scoring import test_no_response_crashes_the_scorer_and_scores_stay_in_range as scorer_test

    asked = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
    assert settings.default.max_examples == PROFILES[asked]
    assert PROFILES["ci"] < PROFILES["default"]
    # the whole-dev-set test takes the profile's count rather than one of its own
    assert scorer_test.hypothesis.inner_test and scorer_test._hypothesis_internal_use_settings.max_examples == PROFILES[asked]
