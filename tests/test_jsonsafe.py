"""shopbench/jsonsafe.py, the one JSON reader, and every JSON entry point through it: deep
nesting, numbers that are not finite and text that is not JSON end in one line naming the
source, never a RecursionError or a traceback, and never after a model loads."""
import json
import struct

import pytest

import local_evaluation
import run
from shopbench import environment, jsonsafe
from shopbench.errors import DataError
from tests.conftest import DEV_DATA, write_jsonl
from training.__main__ import main as training_main

DEEP = 10_000
ROW = {"input_field": "Which one?\n0. a\n1. b\nAnswer: ", "output_field": 1, "task_name": "t",
       "task_type": "multiple-choice", "metric": "accuracy", "track": "amazon-kdd-cup-24-understanding-shopping-concepts"}


def deep_list(levels: int = DEEP) -> str:
    return "[" * levels + "]" * levels


def deep_object(levels: int = DEEP) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


SHAPES = {"list": deep_list, "object": deep_object}


# --- the reader itself -------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_nesting_up_to_the_bound_is_read_and_one_more_level_is_refused(shape):
    assert jsonsafe.depth(SHAPES[shape](jsonsafe.MAX_DEPTH)) == jsonsafe.MAX_DEPTH
    jsonsafe.loads(SHAPES[shape](jsonsafe.MAX_DEPTH), "X")
    with pytest.raises(DataError, match=rf"^X: nested more than {jsonsafe.MAX_DEPTH} levels deep$"):
        jsonsafe.loads(SHAPES[shape](jsonsafe.MAX_DEPTH + 1), "X")


@pytest.mark.parametrize("text, depth", [
    ('["[[[[[[", "{{{{"]', 1),  # brackets inside strings are text
    ('["\\"[[[[", ["x"]]', 2),  # an escaped quote does not end the string
    ('[["\\\\"], [[1]]]', 3),  # an escaped backslash does
    ('"' + "[" * 500, 0),  # an unterminated string: everything after it is string
    ("[" * 150 + "]" * 150 + "[]", 150),
])
def test_depth_counts_brackets_outside_strings(text, depth):
    assert jsonsafe.depth(text) == depth


def test_a_string_of_brackets_is_read_whatever_its_length():
    text = json.dumps({"prompt": "[" * DEEP + "{" * DEEP})
    assert jsonsafe.loads(text, "X") == {"prompt": "[" * DEEP + "{" * DEEP}


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "[1e999]", "-1e400"])
def test_numbers_that_are_not_finite_are_refused_unless_a_later_check_names_the_field(text):
    with pytest.raises(DataError, match=r"^X: not valid JSON \(.* is not a finite number\)$"):
        jsonsafe.loads(text, "X")
    jsonsafe.loads(text, "X", finite=False)  # the caller's field check names it


def test_what_json_loads_would_raise_on_is_one_line_naming_the_source():
    with pytest.raises(DataError, match=r"^X: not valid JSON \(a number of more than \d+ digits\)$"):
        jsonsafe.loads("1" * 5000, "X")
    with pytest.raises(jsonsafe.NotJSON, match=r"^F:3: not valid JSON \(Expecting value\)$"):
        jsonsafe.loads('{\n"a":\n}', "F", line_numbers=True)
    with pytest.raises(jsonsafe.NotJSON, match=r"^F:2: not UTF-8 \(invalid start byte at byte 2\)$"):
        jsonsafe.loads(b"[\n1,\xff]", "F", line_numbers=True)
    with pytest.raises(jsonsafe.NotJSON, match=r"^V: not valid JSON \(Expecting value\)$"):
        jsonsafe.loads("", "V")


def test_files_and_variables(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="is a folder, not a file"):
        jsonsafe.load_file(tmp_path)
    with pytest.raises(DataError, match="missing.json: cannot read: No such file or directory"):
        jsonsafe.load_file(tmp_path / "missing.json")
    monkeypatch.delenv("SHOPBENCH_VLLM_ARGS", raising=False)
    assert environment.get("SHOPBENCH_VLLM_ARGS") == {}
    monkeypatch.setenv("SHOPBENCH_VLLM_ARGS", deep_list())
    with pytest.raises(DataError, match="^SHOPBENCH_VLLM_ARGS: nested more than"):
        environment.get("SHOPBENCH_VLLM_ARGS")


# --- every entry point, nested 10,000 deep ---------------------------------------------------

def dev_lines() -> list[str]:
    return DEV_DATA.read_text(encoding="utf-8").splitlines()


def results_file(path, deep: str):
    record = {"rules": "kdd", "overall": 1.0, "tracks": {}, "tasks": {"t": {"metric": "accuracy"}},
              "samples": [{"index": 0, "task_name": "t", "response": "1", "score": 1.0, "extra": "DEEP"}]}
    path.write_text(json.dumps(record).replace('"DEEP"', deep))
    return path


def entry_data(tmp_path, deep, monkeypatch):
    (tmp_path / "d.jsonl").write_text(json.dumps(ROW) + "\n" + deep + "\n")
    return local_evaluation.main(["--data", str(tmp_path / "d.jsonl"), "--no-progress"]), "d.jsonl:2: nested"


def entry_data_field(tmp_path, deep, monkeypatch):
    (tmp_path / "d.jsonl").write_text(json.dumps(ROW)[:-1] + ', "extra": ' + deep + "}\n")
    return local_evaluation.main(["--data", str(tmp_path / "d.jsonl"), "--no-progress"]), "d.jsonl:1: nested"


def entry_responses(tmp_path, deep, monkeypatch):
    lines = ['{"response": "1"}'] * len(dev_lines())
    lines[5] = deep
    (tmp_path / "r.jsonl").write_text("\n".join(lines) + "\n")
    argv = ["--data", str(DEV_DATA), "--responses", str(tmp_path / "r.jsonl"), "--no-progress"]
    return local_evaluation.main(argv), "r.jsonl:6: nested"


def entry_release_skill_file(tmp_path, deep, monkeypatch):
    (tmp_path / "data" / "skills").mkdir(parents=True)
    (tmp_path / "data" / "skills" / "skill1_concept.json").write_text(json.dumps(ROW) + "\n" + deep + "\n")
    argv = ["--data", str(tmp_path / "data"), "--rules", "shopping-mmlu", "--no-progress"]
    return local_evaluation.main(argv), "skill1_concept.json:2: nested"


def entry_compare(tmp_path, deep, monkeypatch):
    a, b = results_file(tmp_path / "a.json", "1"), results_file(tmp_path / "b.json", deep)
    return run.main(["compare", str(a), str(b)]), "b.json: nested"


def entry_report(tmp_path, deep, monkeypatch):
    path = results_file(tmp_path / "r.json", deep)
    return run.main(["report", str(path), "--html", str(tmp_path / "o.jsonl")]), "r.json: nested"


def entry_throughput(tmp_path, deep, monkeypatch):
    (tmp_path / "t.json").write_text(deep)
    return run.main(["timing", "--track", "1", "--throughput", str(tmp_path / "t.json")]), "t.json: nested"


def entry_classify(tmp_path, deep, monkeypatch):
    (tmp_path / "d.jsonl").write_text(deep + "\n")
    return run.main(["classify", "--data", str(tmp_path / "d.jsonl")]), "d.jsonl:1: nested"


def entry_training_check(tmp_path, deep, monkeypatch):
    (tmp_path / "d.jsonl").write_text(deep + "\n")
    return training_main(["check", "--data", str(tmp_path / "d.jsonl"), "--no-progress"]), "d.jsonl:1: nested"


def ecinstruct_record(**fields) -> dict:
    return {"task": "Sentiment_Analysis", "setting": "IND_Diverse_Instruction", "split": "train",
            "instruction": "x", "input": "Great.", "options": ["A: positive", "B: negative"], "output": "A",
            **fields}


def entry_ecinstruct_array(tmp_path, deep, monkeypatch):
    (tmp_path / "train.json").write_text("[" + deep + "]")
    argv = ["build", "ecinstruct", "--input", str(tmp_path / "train.json"), "--out", str(tmp_path / "o.jsonl")]
    return training_main(argv), "train.json: nested"


def entry_ecinstruct_lines(tmp_path, deep, monkeypatch):
    (tmp_path / "train.jsonl").write_text(json.dumps(ecinstruct_record()) + "\n" + deep + "\n")
    argv = ["build", "ecinstruct", "--input", str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "o.jsonl")]
    return training_main(argv), "train.jsonl:2: nested"


@pytest.mark.parametrize("field", ["options", "input"])
def entry_ecinstruct_field(field):
    def entry(tmp_path, deep, monkeypatch):
        task = "Sentiment_Analysis" if field == "options" else "Product_Relation_Predicition"
        write_jsonl(tmp_path / "train.jsonl", [ecinstruct_record(task=task, **{field: deep})])
        argv = ["build", "ecinstruct", "--input", str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "o.jsonl")]
        return training_main(argv), f"train.jsonl:1: field '{field}': nested"
    entry.__name__ = f"entry_ecinstruct_{field}"
    return entry


def entry_rewrite_journal(tmp_path, deep, monkeypatch):
    monkeypatch.setenv("SHOPBENCH_SERVER_URL", "http://127.0.0.1:9/v1")  # never asked: the journal is read first
    (tmp_path / "o.jsonl.partial").write_text('{"run": 1}\n' + deep + "\n" + '{"index": 1, "status": "kept"}\n')
    argv = ["rewrite", "--data", str(DEV_DATA), "--out", str(tmp_path / "o.jsonl"), "--no-progress"]
    return training_main(argv), "o.jsonl.partial:2: nested"


def model_from_environment(variable):
    def entry(tmp_path, deep, monkeypatch):
        from models import settings

        monkeypatch.setattr(settings, "gpu_capabilities", lambda: ())  # no torch import to find no GPU
        monkeypatch.delenv("SHOPBENCH_MODEL_DIR", raising=False)
        monkeypatch.delenv("SHOPBENCH_ENGINE", raising=False)
        monkeypatch.setenv(variable, deep)
        argv = ["--limit", "1", "--model", "models.user_config:UserModel", "--no-progress"]
        return local_evaluation.main(argv), f"{variable}: nested"
    entry.__name__ = f"entry_{variable}"
    return entry


def entry_model_dir_config(tmp_path, deep, monkeypatch):
    from models import settings

    monkeypatch.setattr(settings, "gpu_capabilities", lambda: ())
    monkeypatch.delenv("SHOPBENCH_ENGINE", raising=False)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(deep)
    monkeypatch.setenv("SHOPBENCH_MODEL_DIR", str(tmp_path / "model"))
    argv = ["--limit", "1", "--model", "models.user_config:UserModel", "--no-progress"]
    return local_evaluation.main(argv), "model/config.json: nested"


def entry_rewrite_model_dir_config(tmp_path, deep, monkeypatch):
    monkeypatch.setenv("SHOPBENCH_SERVER_URL", "http://127.0.0.1:9/v1")  # never asked: the config is read first
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(deep)
    monkeypatch.setenv("SHOPBENCH_MODEL_DIR", str(tmp_path / "model"))
    argv = ["rewrite", "--data", str(DEV_DATA), "--out", str(tmp_path / "o.jsonl"), "--no-progress"]
    return training_main(argv), "model/config.json: nested"


def entry_safetensors_header(tmp_path, deep, monkeypatch):
    import weights.__main__ as weights_cli

    (tmp_path / "config.json").write_text("{}")
    header = deep.encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    code = weights_cli.main(["check", str(tmp_path)])
    return code, "model.safetensors: safetensors header: nested"


def entry_model_config(tmp_path, deep, monkeypatch):
    import weights.__main__ as weights_cli

    (tmp_path / "config.json").write_text(deep)
    return weights_cli.main(["check", str(tmp_path)]), "config.json: nested"


ENTRIES = [entry_data, entry_data_field, entry_responses, entry_release_skill_file, entry_compare, entry_report,
           entry_throughput,
           entry_classify, entry_training_check, entry_ecinstruct_array, entry_ecinstruct_lines,
           entry_ecinstruct_field("options"), entry_ecinstruct_field("input"), entry_rewrite_journal,
           model_from_environment("SHOPBENCH_DECODING"), model_from_environment("SHOPBENCH_VLLM_ARGS"),
           entry_model_dir_config, entry_rewrite_model_dir_config]
WEIGHTS_ENTRIES = [entry_safetensors_header, entry_model_config]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.__name__[len("entry_"):])
def test_every_json_entry_point_refuses_deep_nesting_in_one_line(entry, shape, tmp_path, monkeypatch, capsys):
    code, expected = entry(tmp_path, SHAPES[shape](), monkeypatch)
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    assert expected in captured.err and f"nested more than {jsonsafe.MAX_DEPTH} levels deep" in captured.err
    assert "Traceback" not in captured.out + captured.err
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("entry", WEIGHTS_ENTRIES, ids=lambda entry: entry.__name__[len("entry_"):])
def test_weights_files_nested_deep_are_a_problem_line(entry, shape, tmp_path, monkeypatch, capsys):
    code, expected = entry(tmp_path, SHAPES[shape](), monkeypatch)
    printed = capsys.readouterr().out
    problems = [line for line in printed.splitlines() if "nested more than" in line]
    assert code != 0 and len(problems) == 1 and expected in problems[0], printed


@pytest.mark.parametrize("shape", SHAPES)
def test_aicrowd_json_and_adapter_configs_nested_deep(shape, tmp_path):
    from submission import aicrowd
    from weights.checkpoint import CheckpointError
    from weights.lora import load_adapter

    (tmp_path / "aicrowd.json").write_text(SHAPES[shape]())
    assert aicrowd.problems(tmp_path, aicrowd.spec.TRACKS[0]) == [
        f"{tmp_path / 'aicrowd.json'}: nested more than {jsonsafe.MAX_DEPTH} levels deep"]
    (tmp_path / "adapter_config.json").write_text(SHAPES[shape]())
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"adapter_config.json: nested more than \d+ levels deep$"):
        load_adapter(tmp_path, 1.0)


def test_every_json_read_of_the_repository_goes_through_jsonsafe():
    from tests.conftest import ROOT

    # openai_engine.py reads a model folder's config.json, which settings.model_config has
    # read through jsonsafe before any engine starts (the UserModel's settings, training's
    # served_engine).
    exempt = {"shopbench/jsonsafe.py", "models/engines/openai_engine.py"}
    direct = []
    for path in sorted(ROOT.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(("tests/", ".")) or "/." in name or name in exempt:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "json.load(" in line or "json.loads(" in line or "JSONDecoder(" in line:
                direct.append(f"{name}:{number}")
    assert direct == []
