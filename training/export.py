"""ShopBench questions -> chat records for supervised fine-tuning (axolotl `chat_template`).

Each record is what inference will send plus the answer: the system prompt names the
task the classifier routes the question to (not the label in the data), the user turn is
the cleaned question, both from `prompts.chat_messages`, and the assistant turn is the
gold answer written the way the decoding constraints let the model write it (digits and
commas, no spaces) and the official parser reads it.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass

import prompts
from decoding.profiles import profile_of
from routing.classifier import Route, classify
from shopbench import data, spec
from shopbench.data import Question


def _ranked_order(weights: list[float]) -> list[int]:
    """Candidate numbers from the most to the least relevant (ties in list order)."""
    return sorted(range(1, len(weights) + 1), key=lambda number: -weights[number - 1])


def gold_answer(question: Question) -> str:
    """The response that scores the question's maximum under its official parser and metric."""
    truth = question.output_field
    if question.task_type == spec.MULTIPLE_CHOICE:
        return str(truth)
    if question.task_type in (spec.RANKING, spec.RETRIEVAL):
        numbers = _ranked_order(truth) if question.metric == spec.NDCG else truth
        return ",".join(str(number) for number in numbers)
    if question.task_type == spec.NER:
        # The comma split would cut an entity that holds a comma; a list literal keeps it.
        return repr(truth) if any("," in entity for entity in truth) else ", ".join(truth)
    return truth if isinstance(truth, str) else truth[0]


def route_of(question: Question) -> Route:
    return classify(question.input_field, question.is_multiple_choice)


def sft_record(question: Question, route: Route | None = None) -> dict:
    route = route or route_of(question)
    return {"messages": prompts.chat_messages(question.input_field, profile_of(route).system_prompt, gold_answer(question))}


@dataclass
class ExportReport:
    out: str
    records: int
    system_tasks: Counter  # the task named in the system prompt -> records
    routed_elsewhere: int  # records whose route differs from their task_type
    seconds: float


def export(questions: list[Question], out, progress: bool = False) -> ExportReport:
    from tqdm.auto import tqdm

    started = time.perf_counter()
    system_tasks: Counter = Counter()
    routed_elsewhere = 0
    with data.atomic_writer(out) as handle:
        for question in tqdm(questions, desc="Exporting", unit="q", disable=not progress):
            route = route_of(question)
            system_tasks[profile_of(route).system_prompt] += 1
            routed_elsewhere += route.task_type != question.task_type
            handle.write(json.dumps(sft_record(question, route), ensure_ascii=False) + "\n")
    return ExportReport(str(out), len(questions), system_tasks, routed_elsewhere, time.perf_counter() - started)


def format_export(report: ExportReport) -> str:
    tasks = ", ".join(f"{task} {count}" for task, count in report.system_tasks.most_common())
    rate = report.records / report.seconds if report.seconds else float("inf")
    lines = [
        f"{report.records} records written to {report.out} ({report.seconds:.1f} s, {rate:,.0f} records/s)",
        f"System prompt task: {tasks}",
    ]
    if report.routed_elsewhere:
        lines.append(f"{report.routed_elsewhere} questions route to another task type than their data says; "
                     "`python -m training check` lists them")
    return "\n".join(lines)
