"""Is a training file fit to train on? Two checks on every question:

- its gold answer, as the export writes it, scores the metric's maximum under the
  official parser and metric (a builder whose answer the parser cannot read fails here);
- the classifier routes it to its task type, and the answer is one the decoding
  constraints of that route allow (the right choices, the right candidate numbers), so
  training shows the model what inference will send and ask of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from routing import anatomy
from routing.classifier import Route
from shopbench import spec
from shopbench.data import Question
from shopbench.report import table
from shopbench.terminal import printable
from training.export import gold_answer, route_of
from training.records import repeated_option

ROUTING_AGREEMENT = 0.99  # the share of each task's questions that must route to its type
FULL_SCORE = 1 - 1e-6  # float32 cosines of identical texts land a hair under 1


@dataclass
class Finding:
    index: int  # position in the file, from 0
    task_name: str
    detail: str


@dataclass
class TaskCheck:
    name: str
    task_type: str
    metric: str
    questions: int
    gold_score: float
    routed: int  # questions routed to the task type with an answer the route allows


@dataclass
class CheckReport:
    tasks: list[TaskCheck]
    misrouted: list[Finding]
    below_full_score: list[Finding]
    repeated_options: list[Finding] = field(default_factory=list)  # multiple choice that cannot be answered

    @property
    def passed(self) -> bool:
        return (not self.below_full_score and not self.repeated_options
                and all(t.routed >= ROUTING_AGREEMENT * t.questions for t in self.tasks))

    @property
    def failed(self) -> list[Finding]:
        """Every question with a problem of its own (routing as a share is judged per task)."""
        return self.misrouted + self.below_full_score + self.repeated_options


def routing_problem(question: Question, route: Route) -> str | None:
    """Why inference would not treat this question as the data says, or None."""
    if route.task_type != question.task_type:
        return f"routed as {route.task_type}, not {question.task_type}"
    truth = question.output_field
    if question.task_type == spec.MULTIPLE_CHOICE and truth not in route.choices:
        return f"answer {truth} is not among the choices the decoder allows {list(route.choices)}"
    if question.task_type in (spec.RANKING, spec.RETRIEVAL):
        numbers = range(1, len(truth) + 1) if question.metric == spec.NDCG else truth
        outside = [n for n in numbers if n not in route.candidates]
        if outside:
            return f"answer numbers {outside} are not in the candidate list read from the prompt {list(route.candidates)}"
        if question.task_type == spec.RETRIEVAL and question.metric == spec.HIT_RATE_3 and len(truth) > route.answer_count:
            return f"{len(truth)} answers but the prompt is read as asking for {route.answer_count}"
    return None


def options_problem(question: Question, route: Route) -> str | None:
    """Why a multiple-choice question cannot be answered from its options, or None: two of
    the options it lists read the same."""
    if question.task_type != spec.MULTIPLE_CHOICE:
        return None
    texts = anatomy.read(question.input_field).candidate_texts
    pair = repeated_option(list(texts.values()))
    if pair is None:
        return None
    first, second = (list(texts)[position] for position in pair)
    return f"options {first} and {second} read the same ({texts[first][:60]!r})"


def check(questions: list[Question], scorer, progress: bool = False) -> CheckReport:
    report = scorer.score(questions, [gold_answer(q) for q in questions], progress=progress)
    below = [
        Finding(s.index, s.task_name, f"gold answer {s.response[:60]!r} scores {s.score:.4f} ({s.metric})")
        for s in report.samples
        if s.score < FULL_SCORE
    ]
    misrouted, repeated = [], []
    routed: dict[str, int] = {}
    for question in questions:
        route = route_of(question)
        problem = routing_problem(question, route)
        routed[question.task_name] = routed.get(question.task_name, 0) + (problem is None)
        if problem:
            misrouted.append(Finding(question.index, question.task_name, problem))
        problem = options_problem(question, route)
        if problem:
            repeated.append(Finding(question.index, question.task_name, problem))
    tasks = [
        TaskCheck(name, task.task_type, task.metric, task.num_samples, task.score, routed[name])
        for name, task in report.tasks.items()
    ]
    return CheckReport(tasks, misrouted, below, repeated)


def format_check(report: CheckReport, shown: int = 20) -> str:
    rows = [
        [t.name, t.task_type, t.metric, str(t.questions), f"{t.gold_score:.4f}", f"{t.routed / t.questions:.1%}"]
        for t in report.tasks
    ]
    lines = table(["task", "task type", "metric", "n", "gold score", "routed"], rows, right={3, 4, 5})
    for title, findings in (("Routed otherwise", report.misrouted), ("Gold answer below full score", report.below_full_score),
                            ("Options that read the same", report.repeated_options)):
        if findings:
            lines += ["", f"{title}: {len(findings)}"]
            lines += [printable(f"  question {f.index + 1} ({f.task_name}): {f.detail}") for f in findings[:shown]]
            if len(findings) > shown:
                lines.append(f"  ... and {len(findings) - shown} more")
    verdict = "passed" if report.passed else "FAILED"
    lines += ["", f"Check {verdict}: every gold answer at full score, no two options of a question alike, at least "
              f"{ROUTING_AGREEMENT:.0%} of each task routed to its type."]
    return "\n".join(lines)
