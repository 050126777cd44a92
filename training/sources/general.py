"""The general-knowledge and general-instruction parts (paper Table 7, rows 37-38),
converted without changes in meaning: MMLU keeps its options in their order (an option
such as "All of the above" depends on it), lettered A-D becoming numbered 0-3 as the
ShopBench multiple-choice parser reads; Alpaca keeps instruction, input and output.

MMLU input: one CSV file, or a folder searched for them, in the release's headerless
layout `question, A, B, C, D, answer` (a header row with those names is also accepted).
A file named `SUBJECT_test.csv` (or _dev, _val) names its subject in the prompt.
Alpaca input: `alpaca_data_cleaned.json` (a JSON array) or JSON Lines of
`instruction, input, output`.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

from shopbench import spec
from shopbench.data import DataError
from training import readers
from training.records import REPEATED_OPTIONS, Built, Source, Task, choice_prompt, repeated_option, shuffled

MMLU_COLUMNS = ("question", "A", "B", "C", "D", "answer")
LETTERS = "ABCD"
ALPACA_FIELDS = ("instruction", "input", "output")
_SUBJECT_FILE = re.compile(r"^(.+)_(?:test|dev|val)$")


@dataclass
class MmluQuestion:
    subject: str  # "" when the file name does not give one
    question: str
    options: tuple[str, ...]
    answer: int


@dataclass
class MmluData:
    questions: list[MmluQuestion]
    unusable: dict[str, int]


def load_mmlu(path) -> MmluData:
    path = readers.existing(path)
    files = sorted(path.rglob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no .csv files")
    questions = []
    for file in files:
        subject_match = _SUBJECT_FILE.match(file.stem)
        subject = subject_match.group(1).replace("_", " ") if subject_match else ""
        rows = list(readers.csv_lists(file))
        if rows and [f.strip().lower() for f in rows[0][1]] == [c.lower() for c in MMLU_COLUMNS]:
            rows = rows[1:]
        if not rows:
            raise DataError(f"{file}: no questions")
        for line, fields in rows:
            if len(fields) != len(MMLU_COLUMNS):
                missing = MMLU_COLUMNS[len(fields)] if len(fields) < len(MMLU_COLUMNS) else None
                detail = f"field '{missing}': missing" if missing else f"{len(fields)} fields"
                raise DataError(f"{file}:{line}: {detail} (expected {', '.join(MMLU_COLUMNS)})")
            letter = fields[5].strip().upper()
            if not letter or letter not in LETTERS:
                raise DataError(f"{file}:{line}: field 'answer': expected one of A, B, C, D, got {fields[5]!r}")
            questions.append(MmluQuestion(subject, fields[0].strip(), tuple(f.strip() for f in fields[1:5]), LETTERS.index(letter)))
    return MmluData(questions, {})


def mmlu(data: MmluData, rng: random.Random):
    for item in shuffled(data.questions, rng):
        if not item.question:
            yield "question without text"
            continue
        if repeated_option(item.options):
            yield REPEATED_OPTIONS
            continue
        about = f"The following is a multiple choice question about {item.subject}.\n\n" if item.subject else ""
        yield Built(choice_prompt(f"{about}{item.question}\n", item.options), item.answer)


@dataclass
class AlpacaData:
    records: list[tuple[str, str, str]]  # instruction, input, output
    unusable: dict[str, int]


def load_alpaca(path) -> AlpacaData:
    records = []
    for where, record in readers.json_records(path, ALPACA_FIELDS):
        for name in ALPACA_FIELDS:
            if not isinstance(record[name], str):
                raise DataError(f"{path}:{where}: field '{name}': expected a string")
        records.append((record["instruction"].strip(), record["input"].strip(), record["output"].strip()))
    return AlpacaData(records, {})


def alpaca(data: AlpacaData, rng: random.Random):
    for instruction, given, output in shuffled(data.records, rng):
        if not instruction or not output:
            yield "record without an instruction or an output"
            continue
        given_part = f"\nInput: {given}" if given else ""
        yield Built(f"Instructions: {instruction}{given_part}\nOutput:", output)


MMLU = Source(
    name="mmlu",
    input_help="an MMLU CSV file, or a folder of them (question, A, B, C, D, answer)",
    load=load_mmlu,
    tasks=(Task("mmlu", spec.MULTIPLE_CHOICE, spec.ACCURACY, "MMLU questions, options kept in order", mmlu),),
)

ALPACA = Source(
    name="alpaca",
    input_help="alpaca_data_cleaned.json (a JSON array) or JSON Lines with instruction, input, output",
    load=load_alpaca,
    tasks=(Task("alpaca", spec.GENERATION, spec.SENT_TRANSFORMER, "Alpaca-cleaned instructions and answers", alpaca),),
)
