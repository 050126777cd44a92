import json
import os
import stat

import pytest

from shopbench import data
from shopbench.data import DataError
from tests.conftest import DEV_DATA, write_jsonl

ROW = {"input_field": "q", "output_field": 1, "task_name": "t", "task_type": "multiple-choice", "metric": "accuracy"}


def test_dev_set_loads_with_derived_fields():
    questions = data.load_questions(DEV_DATA)
    assert len(questions) == 96
    assert [q.index for q in questions] == list(range(96))
    assert all(q.is_multiple_choice == (q.task_type == "multiple-choice") for q in questions)


def test_is_multiple_choice_is_derived_when_absent(tmp_path):
    (question,) = data.load_questions(write_jsonl(tmp_path / "d.json", [ROW]))
    assert question.is_multiple_choice is True and question.track is None


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "d.json:2: not valid JSON"),
        ("[1, 2]", "d.json:2: expected a JSON object"),
        (json.dumps({k: v for k, v in ROW.items() if k != "metric"}), "d.json:2: field 'metric': missing"),
        (json.dumps({**ROW, "task_type": "mcq"}), "d.json:2: field 'task_type': expected one of"),
        (json.dumps({**ROW, "output_field": "1"}), "d.json:2: field 'output_field': expected an integer"),
        (json.dumps({**ROW, "output_field": True}), "d.json:2: field 'output_field': expected an integer"),
        (json.dumps({**ROW, "metric": "ndcg"}), "d.json:2: field 'metric': 'ndcg' cannot score a 'multiple-choice'"),
        (json.dumps({**ROW, "task_type": "retrieval", "metric": "hit rate@3", "output_field": []}),
         "d.json:2: field 'output_field': expected a non-empty list of integers"),
        (json.dumps({**ROW, "is_multiple_choice": "yes"}), "d.json:2: field 'is_multiple_choice': expected true or false"),
        (json.dumps({**ROW, "input_field": None}), "d.json:2: field 'input_field': expected a string"),
    ],
)
def test_bad_data_line_names_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(ROW) + "\n" + line + "\n")
    with pytest.raises(DataError) as error:
        data.load_questions(path)
    assert str(error.value).startswith(str(tmp_path / message))
    assert "\n" not in str(error.value)


def test_a_task_cannot_mix_pooled_and_averaged_metrics(tmp_path):
    ner = {**ROW, "task_type": "named_entity_recognition", "metric": "micro f1", "output_field": ["a"]}
    gen = {**ROW, "task_type": "generation", "metric": "rougel", "output_field": "a"}
    with pytest.raises(DataError, match="d.json:2: field 'metric': task 't' mixes 'micro f1'"):
        data.load_questions(write_jsonl(tmp_path / "d.json", [ner, gen]))


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.json").write_text("\n")
    with pytest.raises(DataError, match="empty.json: no questions"):
        data.load_questions(tmp_path / "empty.json")
    with pytest.raises(DataError, match="missing.json: cannot read"):
        data.load_questions(tmp_path / "missing.json")


def test_select_is_a_seeded_sample_in_file_order():
    questions = data.load_questions(DEV_DATA)
    sample = data.select(questions, 10, seed=1)
    assert [q.index for q in sample] == sorted(q.index for q in sample)
    assert sample == data.select(questions, 10, seed=1)
    assert sample != data.select(questions, 10, seed=2)
    assert data.select(questions, None, seed=1) == questions


def test_responses_match_questions_by_line(tmp_path):
    questions = data.load_questions(DEV_DATA)
    lines = [{"response": str(i), "input_field": q.input_field} for i, q in enumerate(questions)]
    path = write_jsonl(tmp_path / "r.jsonl", lines)
    assert data.load_responses(path, questions, 96) == [str(i) for i in range(96)]
    sample = data.select(questions, 5, seed=0)
    # a full file serves a sample, and so does a file of just the sampled lines
    assert data.load_responses(path, sample, 96) == [str(q.index) for q in sample]
    short = write_jsonl(tmp_path / "s.jsonl", [lines[q.index] for q in sample])
    assert data.load_responses(short, sample, 96) == [str(q.index) for q in sample]


def test_bad_responses_files(tmp_path):
    questions = data.load_questions(DEV_DATA)
    with pytest.raises(DataError, match="r.jsonl: 95 responses for 96 questions"):
        data.load_responses(write_jsonl(tmp_path / "r.jsonl", [{"response": "1"}] * 95), questions, 96)
    lines = [{"response": "1"}] * 96
    lines[7] = {"response": "1", "input_field": "another question"}
    with pytest.raises(DataError, match="r.jsonl:8: field 'input_field': does not match question 8"):
        data.load_responses(write_jsonl(tmp_path / "r.jsonl", lines), questions, 96)
    lines[7] = {"answer": "1"}
    with pytest.raises(DataError, match="r.jsonl:8: field 'response': missing"):
        data.load_responses(write_jsonl(tmp_path / "r.jsonl", lines), questions, 96)


def test_write_atomically_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "results.json"
    data.write_atomically(target, "complete\n")
    assert target.read_text() == "complete\n"

    class Unwritable:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        data.write_atomically(target, Unwritable())
    assert target.read_text() == "complete\n"
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]


def test_atomic_outputs_keep_the_umask_mode(tmp_path):
    from weights.checkpoint import output_folder

    previous = os.umask(0o027)
    try:
        data.write_atomically(tmp_path / "results.json", "{}")
        with output_folder(tmp_path / "model", force=False) as folder:
            (folder / "config.json").write_text("{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "results.json").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o750


def test_a_byte_that_is_not_utf8_is_reported_on_its_own_line(tmp_path):
    lines = [json.dumps({**ROW, "input_field": f"question {i} " + "x" * 3000}) for i in range(8)]
    raw = "\n".join(lines).encode() + b"\n"
    sixth = raw.index(b"question 5")
    path = tmp_path / "bad.json"
    path.write_bytes(raw[:sixth] + b"\xff" + raw[sixth:])
    with pytest.raises(DataError, match=r"bad.json:6: not UTF-8"):
        data.load_questions(path)


def test_gold_values_that_are_not_finite_numbers_are_data_errors(tmp_path):
    row = {**ROW, "task_type": "ranking", "metric": "ndcg", "output_field": [1, 0.1]}
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(row) + "\n" + json.dumps(row).replace("0.1", "NaN") + "\n")
    with pytest.raises(DataError, match=r"nan.json:2: field 'output_field': expected a non-empty list of numbers"):
        data.load_questions(path)
