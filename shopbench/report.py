"""Readable tables of a scored run: per task, per track, overall and timings; under the
Shopping MMLU release's rules, per task, per skill and overall x100, as its leaderboard; of
routing against known task types (`run.py classify`), and of two runs compared (`run.py
compare`)."""
from __future__ import annotations

import json

from shopbench import spec
from shopbench.compare import CONFIDENCE
from shopbench.data import Prompt
from shopbench.decoding_config import DEFAULT as DEFAULT_DECODING
from shopbench.protocol import GuardAction, describe_constraints
from shopbench.scoring import Report
from shopbench.terminal import printable


def table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Aligned columns; cells hold names from data files, so control characters are escaped."""
    header, rows = [printable(c) for c in header], [[printable(c) for c in row] for row in rows]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def task_table(report: Report, group: str, label, scale: float, digits: int) -> list[str]:
    """One row per task; `group` heads the column that `label` fills from the task's track."""
    return table(
        ["task", group, "task type", "metric", "n", "score"],
        [
            [name, label(t.track), t.task_type, t.metric, str(t.num_samples), f"{t.score * scale:.{digits}f}"]
            for name, t in report.tasks.items()
        ],
        right={4, 5},
    )


def skill_lines(report: Report) -> list[str]:
    """The leaderboard's numbers, x100: a row per skill and the overall, this run's column
    beside the published ones."""
    ours = [report.tracks.get(skill.track) for skill in spec.SKILLS]
    scored = sum(score is not None for score in ours)
    if not scored:
        return [f"Overall (mean of {len(report.tasks)} tasks; the per-task files name no skill): "
                f"{report.overall * 100:.2f}"]
    published = spec.LEADERBOARD
    rows = [
        [f"skill{skill.number} {skill.title}", "-" if score is None else f"{score * 100:.2f}",
         *(f"{row.skills[skill.number - 1]:.2f}" for row in published)]
        for skill, score in zip(spec.SKILLS, ours)
    ]
    rows.append(["Overall", f"{report.overall * 100:.2f}",
                 *(f"{row.overall:.2f}" if row.overall is not None else f"{sum(row.skills) / len(row.skills):.2f}*"
                   for row in published)])
    header = ["skill", "this run", *(f"{row.model} (leaderboard)" for row in published)]
    lines = table(header, rows, right=set(range(1, len(header))))
    if scored < len(spec.SKILLS):
        lines.append(f"This run's overall is the mean of the {scored} skill(s) scored; "
                     "the leaderboard's is over all four.")
    if any(published.overall is None for published in spec.LEADERBOARD):
        lines.append("* not published: the mean of the row's four skills, as the leaderboard defines the overall.")
    lines.append(f"Published rows: {spec.LEADERBOARD_SOURCE}.")
    return lines


def kdd_lines(report: Report) -> list[str]:
    """The track table (T5 included when all four are there) and the kit's overall."""
    lines = []
    if report.tracks:
        counts: dict[str, int] = {}
        for task in report.tasks.values():
            counts[task.track] = counts.get(task.track, 0) + 1
        rows = []
        for track, score in report.tracks.items():
            official = spec.TRACK_BY_ID.get(track)
            name = f"{spec.track_label(track)} {official.title}" if official else track
            n = "T1-T4" if track == spec.ALL_AROUND.challenge_id and track not in counts else str(counts.get(track, 0))
            rows.append([name, n, f"{score:.4f}"])
        lines += table(["track", "tasks", "score"], rows, right={1, 2}) + [""]
    lines.append(f"Overall score (mean of {len(report.tasks)} tasks, as the starter kit prints): {report.overall:.4f}")
    return lines


def format_report(report: Report, generation: dict | None = None) -> str:
    if report.rules == spec.MMLU_RULES:
        lines = ["Scored by the Shopping MMLU release's rules (x100)", "",
                 *task_table(report, "skill", spec.skill_label, 100, 2), "", *skill_lines(report)]
    else:
        lines = [*task_table(report, "track", spec.track_label, 1, 4), "", *kdd_lines(report)]
    if report.non_string_responses:
        lines.append(f"Non-string responses scored as empty: {report.non_string_responses}")
    if generation:
        lines.append(format_generation(generation))
    return "\n".join(lines)


def failures_line(generation: dict) -> str:
    """How many questions the model could not answer at all (engine failures)."""
    failed, total = generation["failed_questions"], generation["questions"]
    line = f"Engine failures: {failed} of {total} questions"
    if failed:
        line += " got no model answer (each was given the repaired fallback; the log above says why)"
    return line


def time_guard_line(generation: dict) -> str:
    """Whether answers could depend on the machine's speed, and how many did."""
    if not generation["time_guard"]:
        return "Time guard: off (answers do not depend on speed; SHOPBENCH_TIME_GUARD=on applies the submission's)"
    counts = {action.value: sum(row[action.value] for row in generation["by_profile"].values()) for action in GuardAction}
    changed = ", ".join(f"{count} {name}" for name, count in counts.items())
    return f"Time guard: on ({changed}; SHOPBENCH_TIME_GUARD=off for answers that do not depend on speed)"


def decoding_line(decoding: dict) -> str:
    """Which decoding settings differ from the defaults (all of them are in the results JSON)."""
    defaults = DEFAULT_DECODING.to_json()
    changed = {name: value for name, value in decoding.items() if defaults.get(name) != value}
    if not changed:
        return "Decoding: the defaults (SHOPBENCH_DECODING changes them)"
    return "Decoding: " + ", ".join(f"{name}={json.dumps(value)}" for name, value in changed.items())


USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "answers")


def server_lines(generation) -> list[str]:
    """A server engine's lines of a run record's `generation`: the constraints the server
    applied (`settings.server_constraints`) and the tokens it counted (`token_usage`), each
    when present and of its shape (a results file read back may hold any JSON there)."""
    generation = generation if isinstance(generation, dict) else {}
    settings = generation.get("settings") if isinstance(generation.get("settings"), dict) else {}
    lines = []
    constraints = settings.get("server_constraints")
    if isinstance(constraints, dict) and all(isinstance(form, (str, type(None))) for form in constraints.values()):
        lines.append(f"Server constraints applied: {describe_constraints(constraints)}")
    usage = generation.get("token_usage")
    if isinstance(usage, dict) and all(type(usage.get(key)) is int for key in USAGE_FIELDS):
        lines.append(f"Token usage: {usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion tokens "
                     f"({usage['answers']} answers counted by the server)")
    return lines


def format_generation(generation: dict) -> str:
    """Timings against the 10 s per question rule, and counters per decoding profile."""
    lines = [
        f"Generation: {generation['questions']} questions in {generation['batches']} batches, "
        f"{generation['seconds']:.1f} s, {generation['seconds_per_question']:.3f} s/question; "
        f"worst batch {generation['worst_batch_seconds_per_question']:.3f} s/question "
        f"(limit {generation['limit_seconds_per_question']:.0f})"
    ]
    by_type = ", ".join(f"{t} {s:.3f}" for t, s in generation["seconds_per_question_by_task_type"].items())
    lines.append(f"Seconds per question by task type: {by_type}")
    settings = generation.get("settings") or {}
    if settings.get("model"):
        precision = f", {settings['precision']} weights" if settings.get("precision") else ""
        lines.append(f"Model: {settings['model']}{precision}")
    if generation.get("failed_questions") is not None:
        lines.append(failures_line(generation))
    if generation.get("time_guard") is not None:
        lines.append(time_guard_line(generation))
    decoding = settings.get("decoding")
    if decoding is not None:
        lines.append(decoding_line(decoding))
    lines += server_lines(generation)
    if generation["by_profile"]:
        rows = [
            [profile, str(row["questions"]), str(row["repaired"]), *(str(row[action.value]) for action in GuardAction),
             str(row["failed"]), str(row["generated_tokens"]), f"{row['seconds'] / row['questions']:.3f}"]
            for profile, row in generation["by_profile"].items()
        ]
        # The time guard's columns are named as its own: an engine failure is a fallback too,
        # counted apart under "engine failed".
        header = ["decoding profile", "questions", "repaired", *(f"guard {action.value}" for action in GuardAction),
                  "engine failed", "tokens", "s/question"]
        lines += ["", *table(header, rows, set(range(1, len(header))))]
    return "\n".join(lines)


def routing_report(routed: list[tuple[Prompt, str]], show_misses: int = 0) -> str:
    """Accuracy; a table of true task type (rows) by predicted task type (columns); the
    accuracy of each task, worst first, when the data names tasks; the first misses."""
    pairs = [(prompt.task_type, guess) for prompt, guess in routed]
    right = sum(truth == guess for truth, guess in pairs)
    types = [t for t in spec.TASK_TYPES if any(t in pair for pair in pairs)]
    short = {t: "NER" if t == spec.NER else t for t in types}
    lines = [f"task_type accuracy: {right}/{len(pairs)} ({right / len(pairs):.1%})", ""]
    confusion = [[short[truth], *(str(pairs.count((truth, guess))) for guess in types)] for truth in types]
    lines += table(["true \\ predicted", *(short[t] for t in types)], confusion, right=set(range(1, len(types) + 1)))
    by_task: dict[str, list[bool]] = {}
    for prompt, guess in routed:
        if prompt.task_name is not None:
            by_task.setdefault(prompt.task_name, []).append(prompt.task_type == guess)
    if by_task:
        rows = sorted(([name, str(sum(hits)), str(len(hits)), f"{sum(hits) / len(hits):.1%}"]
                       for name, hits in by_task.items()), key=lambda row: (int(row[1]) / int(row[2]), row[0]))
        lines += ["", *table(["task", "right", "n", "accuracy"], rows, right={1, 2, 3})]
    misses = [(prompt, guess) for prompt, guess in routed if prompt.task_type != guess]
    if show_misses and misses:
        lines += ["", f"misrouted ({min(show_misses, len(misses))} of {len(misses)}):"]
        for prompt, guess in misses[:show_misses]:
            text = printable(" ".join(prompt.input_field.split())[:80])
            lines.append(f"  {printable(prompt.task_name or '-')}: {short.get(prompt.task_type, prompt.task_type)} -> "
                         f"{short.get(guess, guess)}: {text}")
    return "\n".join(lines)


def comparison_report(comparison, changes: list, show: int, a_name: str, b_name: str) -> str:
    """One table of A, B, B - A and its interval per task, track and overall; then the
    questions that changed most when asked for."""
    rows = [
        [spec.track_label(row.name) if row.kind == "track" else row.name, str(row.questions), f"{row.a:.4f}",
         f"{row.b:.4f}", f"{row.difference:+.4f}", f"[{row.low:+.4f}, {row.high:+.4f}]", "*" if row.excludes_zero else ""]
        for row in comparison.rows
    ]
    lines = [f"A: {printable(a_name)}", f"B: {printable(b_name)}", ""]
    header = ["", "n", "A", "B", "B-A", f"{CONFIDENCE}% interval", ""]
    lines += [line.rstrip() for line in table(header, rows, right={1, 2, 3, 4, 5})]  # the mark column is mostly empty
    lines += ["", f"* the interval excludes 0. Paired bootstrap: {comparison.replicates} replicates (seed "
                  f"{comparison.seed}), questions resampled within each task, micro F1 pooled."]
    if show:
        lines += ["", f"Questions whose score changed most ({len(changes)} shown; unchanged ones are not listed):"]
        for change in changes:
            lines.append(f"  question {change.index} ({printable(change.task_name)}): "
                         f"{change.score_a:.4f} -> {change.score_b:.4f}")
            for side, response in (("A", change.response_a), ("B", change.response_b)):
                lines.append(f"    {side}: {' '.join(response.split())[:80]!r}")
    return "\n".join(lines)
