"""The HTML page of a run and of a comparison: every question shown, escaped, filterable,
worst first; checked in a real browser (headless Chromium reads the rendered DOM)."""
import json
import re
from urllib.parse import quote

import pytest

import local_evaluation
import run as run_command
from shopbench import compare, html_report, spec
from tests.browser import Dom, dump_dom
from tests.conftest import write_jsonl

T1, T2 = spec.TRACKS[0].challenge_id, spec.TRACKS[1].challenge_id
PWN = "document.title='pwned'"
HOSTILE_TASK = f'odd"><img src=x onerror="{PWN}">'
# Markup in every place the data or a model fills: prompts, gold, responses, task names.
RECORDS = [
    {"input_field": f"<script>{PWN}</script>\nWhich one?\n0. a\n1. b\nAnswer:", "output_field": 1,
     "task_name": "task1", "task_type": spec.MULTIPLE_CHOICE, "metric": spec.ACCURACY, "track": T1},
    {"input_field": f'Describe <img src=x onerror="{PWN}"> this.', "output_field": f"</pre></td></tr><script>{PWN}</script>",
     "task_name": "task2", "task_type": spec.GENERATION, "metric": spec.ROUGE_L, "track": T1},
    {"input_field": "Line\u2028separators\u2029and </script><!-- a comment", "output_field": 0,
     "task_name": HOSTILE_TASK, "task_type": spec.MULTIPLE_CHOICE, "metric": spec.ACCURACY, "track": T2},
    {"input_field": "Plain question?\n0. yes\n1. no\nAnswer:", "output_field": 0,
     "task_name": "task1", "task_type": spec.MULTIPLE_CHOICE, "metric": spec.ACCURACY, "track": T1},
    {"input_field": "Another plain question?\n0. yes\n1. no\nAnswer:", "output_field": 1,
     "task_name": HOSTILE_TASK, "task_type": spec.MULTIPLE_CHOICE, "metric": spec.ACCURACY, "track": T2},
]
RESPONSES_A = ["1", f'<svg onload="{PWN}">', "0", "1", "1"]
RESPONSES_B = ["0", "a description", "0", "0", "1"]


def scored(tmp_path, capsys, responses, name="r"):
    data = write_jsonl(tmp_path / "data.jsonl", RECORDS)
    saved = write_jsonl(tmp_path / f"{name}.jsonl", [{"response": r} for r in responses])
    output, page = tmp_path / f"{name}.json", tmp_path / f"{name}.html"
    code = local_evaluation.main(["--data", str(data), "--responses", str(saved), "--output", str(output),
                                  "--html", str(page), "--no-progress"])
    capsys.readouterr()
    assert code == 0
    return output, page


def assert_nothing_from_the_data_ran(dom: Dom):
    assert PWN not in dom.title and dom.title.startswith("ShopBench")
    assert dom.tags("img") == [] and len(dom.tags("script")) == 1  # the page's own script only
    assert len(dom.tags("svg")) == 1 and not any(name.startswith("on") for _, attributes in dom.elements
                                                 for name in attributes)


@pytest.mark.browser
def test_the_page_shows_every_question_escaped_worst_first(tmp_path, capsys):
    output, page = scored(tmp_path, capsys, RESPONSES_A)
    results = json.loads(output.read_text())
    dom = Dom(dump_dom(page))
    assert_nothing_from_the_data_ran(dom)
    assert len(dom.rows) == len(RECORDS) and not any(row.hidden for row in dom.rows)
    by_index = {int(row.attributes["data-index"]): row for row in dom.rows}
    for sample, record, response in zip(results["samples"], RECORDS, RESPONSES_A):
        row = by_index[sample["index"]]
        assert record["input_field"] in row.cells["prompt"]  # shown as text, character for character
        assert row.cells["response"] == response and row.cells["task"].startswith(record["task_name"])
        gold = record["output_field"]
        assert row.cells["gold"] == (gold if isinstance(gold, str) else json.dumps(gold))
        assert float(row.cells["num score"]) == pytest.approx(sample["score"], abs=1e-4)
    scores = [float(row.attributes["data-score"]) for row in dom.rows]
    assert scores == sorted(scores)  # worst first
    assert dom.by_id["shown"] == f"{len(RECORDS)} of {len(RECORDS)} questions shown"
    # the scores on the page are the results file's
    assert f"{results['overall']:.4f}" in "".join(dom.texts)


@pytest.mark.browser
def test_the_page_filters_and_sorts_from_its_address(tmp_path, capsys):
    _, page = scored(tmp_path, capsys, RESPONSES_A)
    dom = Dom(dump_dom(page, "task=" + quote(HOSTILE_TASK, safe="")))
    assert_nothing_from_the_data_ran(dom)
    assert {row.attributes["data-task"] for row in dom.visible()} == {HOSTILE_TASK} and len(dom.visible()) == 2
    assert dom.by_id["shown"] == f"2 of {len(RECORDS)} questions shown"
    dom = Dom(dump_dom(page, "track=T1&type=multiple-choice&sort=index"))
    visible = [int(row.attributes["data-index"]) for row in dom.visible()]
    assert visible == [0, 3] and len(dom.rows) == len(RECORDS)  # filtered rows stay, hidden
    assert [int(row.attributes["data-index"]) for row in dom.rows] == list(range(len(RECORDS)))  # file order
    dom = Dom(dump_dom(page, "sort=-score"))
    scores = [float(row.attributes["data-score"]) for row in dom.rows]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.browser
def test_engine_failures_are_marked_and_can_be_shown_alone(tmp_path, capsys):
    output, page = tmp_path / "r.json", tmp_path / "r.html"
    code = local_evaluation.main(["--model", "tests.models_for_tests:HalfFailingModel", "--limit", "20",
                                  "--output", str(output), "--html", str(page), "--no-progress", "--allow-failures"])
    capsys.readouterr()
    failed = {s["index"] for s in json.loads(output.read_text())["samples"] if s["model"]["failed"]}
    assert code == 0 and 0 < len(failed) < 20
    dom = Dom(dump_dom(page, "failed=1"))
    assert {int(row.attributes["data-index"]) for row in dom.visible()} == failed
    assert all("engine failed" in row.cells["model"] for row in dom.visible())
    assert f"Engine failures: {len(failed)} of 20 questions" in "".join(dom.texts)


@pytest.mark.browser
def test_a_comparison_page_shows_both_responses_changed_first(tmp_path, capsys):
    a, _ = scored(tmp_path, capsys, RESPONSES_A, "a")
    b, _ = scored(tmp_path, capsys, RESPONSES_B, "b")
    page = tmp_path / "compare.html"
    assert run_command.main(["compare", str(a), str(b), "--html", str(page)]) == 0
    capsys.readouterr()
    dom = Dom(dump_dom(page))
    assert_nothing_from_the_data_ran(dom)
    assert len(dom.rows) == len(RECORDS)
    changes = [abs(float(row.attributes["data-change"])) for row in dom.rows]
    assert changes == sorted(changes, reverse=True) and changes[0] > 0 and changes[-1] == 0
    for row in dom.rows:
        index = int(row.attributes["data-index"])
        assert (row.cells["response-a"], row.cells["response-b"]) == (RESPONSES_A[index], RESPONSES_B[index])
    dom = Dom(dump_dom(page, "track=T2&sort=index"))
    assert [int(row.attributes["data-index"]) for row in dom.visible()] == [2, 4]


def test_the_page_needs_nothing_outside_itself(tmp_path, capsys):
    _, page = scored(tmp_path, capsys, RESPONSES_A)
    text = page.read_text()
    assert "default-src 'none'" in text and "http://" not in text
    assert "https://" not in text and not re.search(r'<[a-z]+(\s+[a-z-]+(="[^"]*")?)*\s+(src|href)=', text)  # nothing fetched
    assert f"<script>{PWN}" not in text and "&lt;script&gt;" in text


def test_a_saved_results_file_gives_the_same_page(tmp_path, capsys):
    output, page = scored(tmp_path, capsys, RESPONSES_A)
    again = tmp_path / "again.html"
    assert run_command.main(["report", str(output), "--html", str(again)]) == 0
    assert f"Page written to {again} ({len(RECORDS)} questions" in capsys.readouterr().out
    assert again.read_text() == page.read_text()


def test_older_results_files_without_prompts_still_make_a_page(tmp_path, capsys):
    output, _ = scored(tmp_path, capsys, RESPONSES_A)
    results = json.loads(output.read_text())
    for sample in results["samples"]:
        for key in ("prompt", "gold", "parsed"):
            del sample[key]
    output.write_text(json.dumps(results))
    page = tmp_path / "old.html"
    assert run_command.main(["report", str(output), "--html", str(page)]) == 0
    assert page.read_text().count("not in the results file") == len(RECORDS)


@pytest.mark.parametrize("record, words", [([1, 2], "not a results file"), ({"tasks": {}, "samples": []}, "no samples")])
def test_a_file_that_is_not_results_is_one_line(tmp_path, capsys, record, words):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    assert run_command.main(["report", str(bad), "--html", str(tmp_path / "p.html")]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "p.html").exists()


def test_the_page_is_an_output_that_never_replaces_an_input(tmp_path, capsys):
    output, _ = scored(tmp_path, capsys, RESPONSES_A)
    kept = output.read_text()
    for argv in (["report", str(output), "--html", str(output)],
                 ["compare", str(output), str(output), "--html", str(output)]):
        with pytest.raises(SystemExit) as stopped:
            run_command.main(argv)
        assert stopped.value.code == 2 and "--html" in capsys.readouterr().err
    data = tmp_path / "data.jsonl"
    with pytest.raises(SystemExit):
        local_evaluation.main(["--data", str(data), "--responses", str(tmp_path / "r.jsonl"), "--html", str(data)])
    assert "--html" in capsys.readouterr().err and output.read_text() == kept


def test_escaping_keeps_every_character_a_browser_can_show():
    assert html_report.escape('<a href="x">\'&') == "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;"
    assert html_report.escape("lone \ud800 surrogate") == "lone \ufffd surrogate"
    assert html_report.shown(None) == "" and html_report.shown(["a", 1]) == '["a", 1]' and html_report.shown("x") == "x"


SERVER_GENERATION = {"token_usage": {"answers": 5, "prompt_tokens": 1234, "completion_tokens": 56},
                     "settings": {"model": "served", "server_constraints": {
                         "choice": "guided", "regex": None, f"<b>{PWN}</b>": "<i>structured</i>"}}}


def _with_generation(output, generation) -> dict:
    results = json.loads(output.read_text())
    results["generation"] = generation
    return results


def test_a_server_runs_token_usage_and_constraints_are_in_the_header_escaped(tmp_path, capsys):
    output, _ = scored(tmp_path, capsys, RESPONSES_A)
    page = html_report.page_results("r.json", _with_generation(output, SERVER_GENERATION))
    text = html_report.run_page(page)
    header = text[:text.index("<h2>")]
    assert "Token usage: 1234 prompt + 56 completion tokens (5 answers counted by the server)" in header
    assert "Server constraints applied: choice (guided), " in header
    assert html_report.escape(f"<b>{PWN}</b> (<i>structured</i>)") in header and f"<b>{PWN}" not in text
    assert "&lt;b&gt;" in header and "&lt;i&gt;" in header
    plain = json.loads(output.read_text())
    other = html_report.page_results("b.json", plain)
    tasks = compare.pair(*(compare.results_from_json(name, record) for name, record in
                           (("a.json", _with_generation(output, SERVER_GENERATION)), ("b.json", plain))))
    compared = html_report.comparison_page(page, other, compare.bootstrap(tasks, spec.MIN_BOOTSTRAP_REPLICATES, 1))
    assert "A: Token usage: 1234 prompt" in compared and "B: Token usage" not in compared


@pytest.mark.parametrize("generation", [
    None, [], {"token_usage": None, "settings": None}, {"token_usage": [1], "settings": {"server_constraints": "guided"}},
    {"token_usage": {"answers": "5", "prompt_tokens": 1, "completion_tokens": 1}, "settings": {"server_constraints": [1]}},
    {"token_usage": {"answers": 5, "prompt_tokens": 1.5, "completion_tokens": 1},
     "settings": {"server_constraints": {"choice": ["guided"]}}},
])
def test_a_run_without_them_or_with_other_json_there_shows_none(generation, tmp_path, capsys):
    output, _ = scored(tmp_path, capsys, RESPONSES_A)
    text = html_report.run_page(html_report.page_results("r.json", _with_generation(output, generation)))
    assert "Token usage" not in text and "Server constraints" not in text
