"""A results file as one self-contained HTML page, to look at answers rather than read JSON.

`run_page` shows one run: the overall, track (T5 among them) and task scores, an SVG bar
chart of the task scores, and every question (task, track, type, metric, the model's route
and profile when it reported them, the prompt collapsed, the response, the parsed and the
gold answer, the score, engine failures marked), worst score first, with a server engine's
constraints and token usage in the header. `comparison_page` shows
two runs on the same questions: the comparison table, both task scores in the chart, and
both responses side by side, the questions whose score changed most first.

The page needs nothing outside itself: inline CSS, SVG and one inline script, which filters
the question rows by task, track and type and re-sorts them; the page reads the same choices
from its address (`page.html#task=task1&sort=index`), so a link shows a filtered view. The
rows are rendered here, in Python, and every string from the data or a model goes through
`escape`: a prompt holding `<script>` shows as text. The page's Content-Security-Policy
allows its own script only (by hash) and no network, so even markup that got through could
run nothing and fetch nothing.
"""
from __future__ import annotations

import base64
import hashlib
import html
from dataclasses import dataclass
from typing import Any

from shopbench import compare, metric_registry, scoring, spec
from shopbench.data import json_text
from shopbench.report import server_lines


def escape(text: str) -> str:
    """Text for HTML content or a double-quoted attribute: markup characters escaped, a lone
    surrogate (legal in JSON, not encodable in UTF-8) shown as U+FFFD."""
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return html.escape(text, quote=True)


def shown(value: Any) -> str:
    """How a value read from a results file is shown: a string as it is, anything else as
    JSON, nothing for a missing value."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json_text(value)


@dataclass(frozen=True)
class Scale:
    """How a rule set's reports write scores: the KDD kit's 0-1 with 4 digits per track, the
    Shopping MMLU leaderboard's x100 with 2 digits per skill."""

    factor: float
    digits: int
    group: str  # what a track is called
    label: Any  # track id -> short name

    def __call__(self, score: float) -> str:
        return f"{score * self.factor:.{self.digits}f}"


SCALES = {spec.KDD_RULES: Scale(1, 4, "track", spec.track_label),
          spec.MMLU_RULES: Scale(100, 2, "skill", spec.skill_label)}


@dataclass(frozen=True)
class Question:
    """One question of a results file, as the page shows it."""

    index: int
    task_name: str
    track: str  # its short label ("T1"), "-" when the file names none
    task_type: str
    metric: str
    score: float
    prompt: str
    response: str
    parsed: str
    gold: str
    route: str  # the task type the model routed it to ("" when the model did not say)
    profile: str
    repaired: bool
    failed: bool  # the model gave no answer: the response is its repaired fallback


@dataclass(frozen=True)
class Task:
    name: str
    track: str  # short label
    task_type: str
    metric: str
    questions: int
    score: float


@dataclass(frozen=True)
class RunPage:
    """What a page shows of one results file. Scores are recomputed from its samples with
    the scorer's own aggregation, so they are the file's if the file is whole."""

    name: str
    rules: str
    overall: float
    tracks: dict[str, float]  # track id -> score, T5 included when the four are there
    tasks: list[Task]
    questions: list[Question]  # in index order
    model: str  # what the run says decided its answers ("" when it does not say)
    failures_known: bool  # whether the model said, per answer, if it failed
    server: tuple[str, ...] = ()  # a server engine's lines: constraints applied, tokens counted

    @property
    def scale(self) -> Scale:
        return SCALES[self.rules]

    @property
    def failed(self) -> int:
        return sum(q.failed for q in self.questions)


def _text(record: dict, key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


def page_results(name: str, record) -> RunPage:
    """A checked results dict (what local_evaluation.py --output writes) as a page's content.
    The fields scores depend on are checked as `run.py compare` checks them (a DataError
    naming the file and field); the others are only shown, whatever JSON they hold."""
    results = compare.results_from_json(name, record)
    scale = SCALES[results.rules]
    raw_tasks = record["tasks"]
    by_task: dict[str, list[compare.Answer]] = {}
    for index in sorted(results.answers):
        answer = results.answers[index]
        by_task.setdefault(answer.task_name, []).append(answer)
    tasks, task_scores = [], []
    for task_name, answers in by_task.items():
        metric = results.metrics[task_name]
        counts = [a.counts for a in answers] if metric_registry.get(metric).aggregation.pooled else None
        score = float(scoring.task_score(metric, [a.score for a in answers], counts))
        track = results.tracks.get(task_name)
        task_scores.append((track, score))
        tasks.append(Task(task_name, scale.label(track), _text(raw_tasks[task_name], "task_type"), metric,
                          len(answers), score))
    tracks, mean_of_tasks = scoring.aggregate_tasks(task_scores)
    overall = float(scoring.overall_score(results.rules, tracks, mean_of_tasks))
    task_types = {task.name: task.task_type for task in tasks}
    samples = {sample["index"]: sample for sample in record["samples"]}  # checked above: objects, unique indices
    questions, failures_known = [], False
    for index in sorted(results.answers):
        answer, sample = results.answers[index], samples[index]
        model = sample.get("model") if isinstance(sample.get("model"), dict) else {}
        failures_known = failures_known or model.get("failed") is not None
        questions.append(Question(
            index, answer.task_name, scale.label(results.tracks.get(answer.task_name)),
            task_types[answer.task_name] or _text(sample, "task_type"), answer.metric, answer.score,
            _text(sample, "prompt"), answer.response, shown(sample.get("parsed")), shown(sample.get("gold")),
            _text(model, "task_type"), _text(model, "profile"), model.get("repaired") is True,
            model.get("failed") is True,
        ))
    generation = record.get("generation") if isinstance(record.get("generation"), dict) else {}
    settings = generation.get("settings") if isinstance(generation.get("settings"), dict) else {}
    return RunPage(name, results.rules, overall, {t: float(s) for t, s in tracks.items()}, tasks, questions,
                   _text(settings, "model"), failures_known, tuple(server_lines(generation)))


def read_page(path) -> RunPage:
    """A results file (local_evaluation.py --output) as a page's content; DataError when it
    cannot be read or is not one."""
    return page_results(str(path), compare.read_record(path))


STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#1d2430;background:#fff}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .5em}
.source{color:#5a6473;margin:0 0 1em}
.cards{display:flex;flex-wrap:wrap;gap:.8em}
.card{border:1px solid #d5dae1;border-radius:6px;padding:.5em .9em;min-width:7em}
.card b{display:block;font-size:1.4em}.card span{color:#5a6473;font-size:.9em}
.failures{color:#a61b1b;font-weight:600}
table{border-collapse:collapse}th,td{border-bottom:1px solid #e3e6eb;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f5f8;position:sticky;top:0}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
pre{margin:0;white-space:pre-wrap;word-break:break-word;max-width:34em;font:12px/1.4 ui-monospace,monospace}
details summary{cursor:pointer;color:#2c5aa0}.sub{color:#5a6473;font-size:.88em}
.badge{display:inline-block;border-radius:3px;padding:0 .35em;font-size:.8em;margin:.1em .2em 0 0}
.badge.failed{background:#a61b1b;color:#fff}.badge.repaired{background:#f2e3b3}
tr.failed td{background:#fff1f1}
#controls{display:flex;flex-wrap:wrap;gap:.8em;align-items:center;margin:.5em 0}
.up{color:#17703a}.down{color:#a61b1b}
svg text{font:11px system-ui,sans-serif;fill:#1d2430}
"""

# Filters and sorting. Rows carry data-* attributes (task, track, type, failed, and the
# numbers a sort reads); a sort value is an attribute name, "-" in front for descending.
# Every choice is also read from, and written to, the address's fragment.
SCRIPT = """
"use strict";
(function () {
  var body = document.getElementById("questions");
  var rows = Array.prototype.slice.call(body.querySelectorAll("tr.question"));
  var filters = ["task", "track", "type"];
  var sort = document.getElementById("sort");
  var failedOnly = document.getElementById("filter-failed");
  var shown = document.getElementById("shown");
  function select(name) { return document.getElementById("filter-" + name); }
  function has(element, value) {
    return Array.prototype.some.call(element.options, function (o) { return o.value === value; });
  }
  function readAddress() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    filters.forEach(function (name) {
      var value = params.get(name);
      if (value !== null && has(select(name), value)) { select(name).value = value; }
    });
    var order = params.get("sort");
    if (order !== null && has(sort, order)) { sort.value = order; }
    if (failedOnly) { failedOnly.checked = params.get("failed") === "1"; }
  }
  function writeAddress() {
    var params = new URLSearchParams();
    filters.forEach(function (name) { if (select(name).value) { params.set(name, select(name).value); } });
    if (sort.value !== sort.options[0].value) { params.set("sort", sort.value); }
    if (failedOnly && failedOnly.checked) { params.set("failed", "1"); }
    try { history.replaceState(null, "", "#" + params.toString()); } catch (e) { /* a file: address may refuse */ }
  }
  function apply() {
    var count = 0;
    rows.forEach(function (row) {
      var keep = filters.every(function (name) {
        var wanted = select(name).value;
        return !wanted || row.getAttribute("data-" + name) === wanted;
      });
      keep = keep && (!failedOnly || !failedOnly.checked || row.getAttribute("data-failed") === "1");
      row.hidden = !keep;
      if (keep) { count += 1; }
    });
    var descending = sort.value.charAt(0) === "-";
    var key = "data-" + sort.value.replace(/^-/, "");
    rows.slice().sort(function (a, b) {
      var x = parseFloat(a.getAttribute(key)), y = parseFloat(b.getAttribute(key));
      if (x !== y) { return descending ? y - x : x - y; }
      return parseFloat(a.getAttribute("data-index")) - parseFloat(b.getAttribute("data-index"));
    }).forEach(function (row) { body.appendChild(row); });
    shown.textContent = count + " of " + rows.length + " questions shown";
  }
  function changed() { apply(); writeAddress(); }
  filters.forEach(function (name) { select(name).addEventListener("change", changed); });
  sort.addEventListener("change", changed);
  if (failedOnly) { failedOnly.addEventListener("change", changed); }
  window.addEventListener("hashchange", function () { readAddress(); apply(); });
  readAddress();
  apply();
})();
"""


def _document(title: str, body: list[str]) -> str:
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    policy = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>", *body,
        f"<script>{SCRIPT}</script>", "</body>", "</html>", "",
    ])


def _cards(items: list[tuple[str, str]]) -> str:
    return '<div class="cards">' + "".join(f'<div class="card"><span>{escape(label)}</span><b>{escape(value)}</b></div>'
                                           for label, value in items) + "</div>"


def _score_cards(pages: list[RunPage]) -> list[tuple[str, str]]:
    """Overall and each track, one value per page (A / B for a comparison)."""
    first = pages[0]
    items = [("Overall", " / ".join(page.scale(page.overall) for page in pages))]
    for track in first.tracks:
        official = spec.TRACK_BY_ID.get(track)
        label = f"{first.scale.label(track)} {official.title}" if official else first.scale.label(track)
        items.append((label, " / ".join(page.scale(page.tracks[track]) if track in page.tracks else "-"
                                         for page in pages)))
    return items


def _failures_line(page: RunPage, prefix: str = "") -> str:
    if not page.failures_known:
        return ""
    css = ' class="failures"' if page.failed else ""
    return (f"<p{css}>{escape(prefix)}Engine failures: {page.failed} of {len(page.questions)} questions"
            + (" got no model answer (each was given the repaired fallback; marked below)" if page.failed else "")
            + "</p>")


def _server_lines(page: RunPage, prefix: str = "") -> str:
    return "".join(f'<p class="server">{escape(prefix + line)}</p>' for line in page.server)


TRACK_COLOURS = ("#3b6fb6", "#d08a2c", "#3c9a5f", "#a04a9c", "#6b7480")


def _chart(pages: list[RunPage]) -> str:
    """Horizontal bars, one row per task (one bar per page), coloured by track."""
    first = pages[0]
    tracks = list(dict.fromkeys(task.track for task in first.tasks))
    colour = {track: TRACK_COLOURS[min(i, len(TRACK_COLOURS) - 1)] for i, track in enumerate(tracks)}
    label_width, bar_width, bar, gap = 190, 420, 14, 6
    row_height = bar * len(pages) + gap
    height = row_height * len(first.tasks) + 24
    parts = [f'<svg role="img" width="{label_width + bar_width + 70}" '
             f'height="{height}" aria-label="task scores">']
    for row, task in enumerate(first.tasks):
        top = row * row_height
        parts.append(f'<text x="{label_width - 6}" y="{top + bar * len(pages) / 2 + 4}" text-anchor="end">'
                     f'{escape(task.name)} ({escape(task.track)})</text>')
        for side, page in enumerate(pages):
            other = next((t for t in page.tasks if t.name == task.name), None)
            if other is None:
                continue
            width = max(0.0, min(1.0, other.score)) * bar_width
            y = top + side * bar
            opacity = "1" if side == 0 else "0.55"
            parts.append(f'<rect class="bar" x="{label_width}" y="{y}" width="{width:.1f}" height="{bar - 2}" '
                         f'fill="{colour[task.track]}" fill-opacity="{opacity}"><title>{escape(task.name)}: '
                         f'{page.scale(other.score)}</title></rect>')
            parts.append(f'<text x="{label_width + width + 4:.1f}" y="{y + bar - 4}">{page.scale(other.score)}</text>')
    axis = row_height * len(first.tasks) + 4
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x = label_width + tick * bar_width
        parts.append(f'<line x1="{x}" y1="0" x2="{x}" y2="{axis}" stroke="#d5dae1" stroke-width="1"/>')
        parts.append(f'<text x="{x}" y="{axis + 14}" text-anchor="middle">{first.scale(tick)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(header: list[tuple[str, bool]], rows: list[str], body_id: str = "") -> list[str]:
    """A table of rows that are already HTML; header: (label, whether the column is numeric)."""
    head = "".join(f'<th class="num">{escape(label)}</th>' if is_number else f"<th>{escape(label)}</th>"
                   for label, is_number in header)
    body_attr = f' id="{body_id}"' if body_id else ""
    return [f"<table><thead><tr>{head}</tr></thead><tbody{body_attr}>", *rows, "</tbody></table>"]


def _task_rows(pages: list[RunPage]) -> list[str]:
    first = pages[0]
    rows = []
    for task in first.tasks:
        scores = []
        for page in pages:
            other = next((t for t in page.tasks if t.name == task.name), None)
            scores.append(f'<td class="num">{page.scale(other.score) if other else "-"}</td>')
        rows.append(f"<tr><td>{escape(task.name)}</td><td>{escape(task.track)}</td><td>{escape(task.task_type)}</td>"
                    f'<td>{escape(task.metric)}</td><td class="num">{task.questions}</td>{"".join(scores)}</tr>')
    return rows


def _controls(questions: list[Question], sorts: list[tuple[str, str]], failures: bool) -> str:
    """The filter and sort controls; options from the data, escaped."""
    parts = ['<div id="controls">']
    for name, label, values in (("task", "task", [q.task_name for q in questions]),
                                ("track", "track", [q.track for q in questions]),
                                ("type", "type", [q.task_type for q in questions])):
        options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in dict.fromkeys(values))
        parts.append(f'<label>{label} <select id="filter-{name}"><option value="">all</option>{options}</select></label>')
    options = "".join(f'<option value="{escape(value)}">{escape(label)}</option>' for value, label in sorts)
    parts.append(f'<label>sort <select id="sort">{options}</select></label>')
    if failures:
        parts.append('<label><input type="checkbox" id="filter-failed"> engine failures only</label>')
    parts.append(f'<span id="shown">{len(questions)} of {len(questions)} questions shown</span></div>')
    return "".join(parts)


def _pre(text: str, css: str) -> str:
    return f'<td class="{css}"><pre>{escape(text)}</pre></td>'


def _prompt_cell(question: Question) -> str:
    if not question.prompt:
        return '<td class="prompt"><span class="sub">not in the results file</span></td>'
    return (f'<td class="prompt"><details><summary>prompt ({len(question.prompt)} characters)</summary>'
            f"<pre>{escape(question.prompt)}</pre></details></td>")


def _question_cell(question: Question) -> str:
    return (f'<td class="task">{escape(question.task_name)}<div class="sub">{escape(question.track)} · '
            f"{escape(question.task_type)} · {escape(question.metric)}</div></td>")


def _model_cell(question: Question, css: str = "model") -> str:
    parts = []
    if question.route or question.profile:
        parts.append(f'<span class="route">{escape(question.route)}</span> / <span class="profile">'
                     f"{escape(question.profile)}</span>")
    if question.failed:
        parts.append('<span class="badge failed">engine failed</span>')
    if question.repaired:
        parts.append('<span class="badge repaired">repaired</span>')
    return f'<td class="{css}">{"<br>".join(parts)}</td>'


def _row_attributes(question: Question, numbers: dict[str, float], failed: bool) -> str:
    values = {"index": str(question.index), "task": question.task_name, "track": question.track,
              "type": question.task_type, "failed": "1" if failed else "0",
              **{name: repr(float(value)) for name, value in numbers.items()}}
    return " ".join(f'data-{name}="{escape(value)}"' for name, value in values.items())


def run_page(page: RunPage) -> str:
    """One run's page."""
    questions = sorted(page.questions, key=lambda q: (q.score, q.index))  # worst first, as the sort shows
    rows = []
    for q in questions:
        css = "question failed" if q.failed else "question"
        rows.append(f'<tr class="{css}" {_row_attributes(q, {"score": q.score}, q.failed)}>'
                    f'<td class="num">{q.index}</td>{_question_cell(q)}{_model_cell(q)}{_prompt_cell(q)}'
                    f'{_pre(q.response, "response")}{_pre(q.parsed, "parsed")}{_pre(q.gold, "gold")}'
                    f'<td class="num score">{q.score:.4f}</td></tr>')
    scale = page.scale
    body = [
        "<h1>ShopBench results</h1>",
        f'<p class="source">{escape(page.name)} · {escape(page.rules)} rules'
        + (f" · {escape(page.model)}" if page.model else "") + "</p>",
        _cards(_score_cards([page])),
        _failures_line(page), _server_lines(page),
        f"<h2>Task scores{' (x100)' if scale.factor != 1 else ''}</h2>", _chart([page]),
        *_table([("task", False), (scale.group, False), ("type", False), ("metric", False), ("n", True),
                 ("score", True)], _task_rows([page])),
        f"<h2>Questions ({len(questions)})</h2>",
        _controls(questions, [("score", "score, worst first"), ("-score", "score, best first"),
                              ("index", "file order")], page.failures_known),
        *_table([("#", True), ("task", False), ("route / profile", False), ("prompt", False), ("response", False),
                 ("parsed", False), ("gold", False), ("score", True)], rows, body_id="questions"),
    ]
    return _document(f"ShopBench results: {page.name}", body)


def comparison_page(a: RunPage, b: RunPage, comparison: compare.Comparison) -> str:
    """Two runs on the same questions (checked by compare.pair): the comparison table with
    its intervals, both task scores in the chart, both responses side by side, the questions
    whose score changed most first."""
    scale = a.scale
    b_questions = {q.index: q for q in b.questions}
    pairs = sorted(((q, b_questions[q.index]) for q in a.questions),
                   key=lambda pair: (-abs(pair[1].score - pair[0].score), pair[0].index))
    rows = []
    for qa, qb in pairs:
        change = qb.score - qa.score
        css = "up" if change > 0 else "down" if change < 0 else ""
        failed = qa.failed or qb.failed
        numbers = {"change": abs(change), "a": qa.score, "b": qb.score}
        rows.append(f'<tr class="question{" failed" if failed else ""}" {_row_attributes(qa, numbers, failed)}>'
                    f'<td class="num">{qa.index}</td>{_question_cell(qa)}<td class="num score-a">{qa.score:.4f}</td>'
                    f'<td class="num score-b">{qb.score:.4f}</td><td class="num change {css}">{change:+.4f}</td>'
                    f'{_pre(qa.response, "response-a")}{_pre(qb.response, "response-b")}'
                    f'{_model_cell(qa, "model-a")}{_model_cell(qb, "model-b")}'
                    f'{_prompt_cell(qa)}{_pre(qa.gold, "gold")}</tr>')
    summary = []
    for row in comparison.rows:
        name = scale.label(row.name) if row.kind == "track" else row.name
        css = "up" if row.excludes_zero and row.difference > 0 else "down" if row.excludes_zero else ""
        summary.append(f'<tr><td>{escape(name)}</td><td class="num">{row.questions}</td>'
                       f'<td class="num">{row.a:.4f}</td><td class="num">{row.b:.4f}</td>'
                       f'<td class="num {css}">{row.difference:+.4f}</td>'
                       f'<td class="num">[{row.low:+.4f}, {row.high:+.4f}]</td>'
                       f'<td>{"*" if row.excludes_zero else ""}</td></tr>')
    changed = sum(qa.score != qb.score for qa, qb in pairs)
    body = [
        "<h1>ShopBench comparison</h1>",
        f'<p class="source">A: {escape(a.name)}' + (f" ({escape(a.model)})" if a.model else "")
        + f"<br>B: {escape(b.name)}" + (f" ({escape(b.model)})" if b.model else "") + "</p>",
        _cards(_score_cards([a, b])),
        _failures_line(a, "A: "), _failures_line(b, "B: "), _server_lines(a, "A: "), _server_lines(b, "B: "),
        f"<h2>B - A, with {compare.CONFIDENCE}% paired bootstrap intervals</h2>",
        *_table([("", False), ("n", True), ("A", True), ("B", True), ("B-A", True),
                 (f"{compare.CONFIDENCE}% interval", True), ("", False)], summary),
        f'<p class="sub">* the interval excludes 0. {comparison.replicates} replicates (seed {comparison.seed}), '
        "questions resampled within each task, micro F1 pooled.</p>",
        f"<h2>Task scores{' (x100)' if scale.factor != 1 else ''}: A, then B (lighter)</h2>", _chart([a, b]),
        f"<h2>Questions ({len(pairs)}; {changed} changed)</h2>",
        _controls([qa for qa, _ in pairs], [("-change", "largest change first"), ("b", "B's score, worst first"),
                                            ("a", "A's score, worst first"), ("index", "file order")],
                  a.failures_known or b.failures_known),
        *_table([("#", True), ("task", False), ("A", True), ("B", True), ("B-A", True), ("response A", False),
                 ("response B", False), ("A: route / profile", False), ("B: route / profile", False),
                 ("prompt", False), ("gold", False)], rows, body_id="questions"),
    ]
    return _document(f"ShopBench comparison: {a.name} vs {b.name}", body)
