"""Questions from the Shopping MMLU release as published (KL4805/ShoppingMMLU's data.zip):
the unzipped folder, or the zip itself, read in place.

The release holds the same questions twice. `skills/<skill>.json` are JSON Lines with the
dev set's fields but no `track` or `is_multiple_choice`: the skill file gives the track
(skill N is track TN) and the task type gives the flag. These are what its leaderboard
scores. The per-task folders (`multiple_choice/<task>_dataset.csv` with question, choices,
answer; `ranking/`, `retrieval/`, `named_entity_recognition/` and `generation/` with
`<task>_dataset.json` JSON Lines of `input_field` and `target_field`) are what its task-wise
scripts read; their prompt is built as those scripts build it, their metric follows from the
folder and, for generation, the task's name (each metric's `task_wise` in `metric_registry`).
They name no skill, so their tasks have no track.

Without a choice, the skill files are read (skill 1 to 4), or every per-task file when the
release has no skill files.
"""
from __future__ import annotations

import ast
import csv
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from shopbench import metric_registry, spec
from shopbench.files import check_input, open_input
from shopbench.data import (
    READ_ERRORS, DataError, Question, check_task_kind, csv_text, json_lines, question_from_record, read_error,
)

SKILLS_FOLDER = "skills"
# The per-task folders, by the task type of their questions.
TASK_FOLDERS = {
    spec.MULTIPLE_CHOICE: "multiple_choice",
    spec.RANKING: "ranking",
    spec.RETRIEVAL: "retrieval",
    spec.NER: "named_entity_recognition",
    spec.GENERATION: "generation",
}
KNOWN_FOLDERS = (SKILLS_FOLDER, *TASK_FOLDERS.values())
TASK_FILE_ENDING = "_dataset"
# A multiple-choice task with this in its name lists no options: the answer is a rating 1-5.
RATING_TASK = "review_rating_prediction"
SHOWN_CHOICES = 4  # the task-wise prompt lists the first four choices, numbered 0-3
# A per-task JSON Lines file holds its answer in the first of these (the README says target_field).
TASK_ANSWER_FIELDS = ("target_field", "output_field")
EXPECTED = (f"expected the Shopping MMLU release: {SKILLS_FOLDER}/<skill>.json or a per-task folder "
            f"({', '.join(TASK_FOLDERS.values())}) at the top or under one folder such as data/")


def is_release(path) -> bool:
    """Whether --data names the release (a folder or a .zip) rather than a JSON Lines file."""
    return Path(path).is_dir() or str(path).lower().endswith(".zip")


def multiple_choice_prompt(task: str, question: str, choices: list) -> str:
    """The task-wise prompt: the question, the first four choices as "\\nN. choice" from 0,
    and "\\nAnswer: " (a rating task lists no choices)."""
    listed = "" if RATING_TASK in task else "".join(f"\n{n}. {c}" for n, c in enumerate(choices[:SHOWN_CHOICES]))
    return f"{question}{listed}\nAnswer: "


@dataclass(frozen=True)
class Release:
    """The release's files, named relative to its top ("skills/skill1_concept.json"),
    mapped to where they are: a path in a folder, or a member of a zip."""

    where: str  # --data, for messages
    files: dict[str, str]
    archive: zipfile.ZipFile | None

    def open(self, name: str):
        """A binary handle on one file. A zip member that cannot be read is one line: an
        encrypted one (zipfile raises RuntimeError), one compressed by a method zipfile
        lacks, such as Deflate64 (NotImplementedError), or a damaged header."""
        try:
            if self.archive is not None:
                return self.archive.open(self.files[name])
            return open_input(self.files[name])
        except RuntimeError as exc:
            problem = "encrypted (a password is needed; extract it and give the folder)" \
                if "encrypted" in str(exc) or "password" in str(exc) else str(exc)
            raise DataError(f"{self.label(name)}: cannot read: {problem}") from None
        except NotImplementedError as exc:
            raise DataError(f"{self.label(name)}: cannot read: {exc or 'compression method not supported'} "
                            "(extract it with a tool that knows the method, such as 7-Zip, and give the folder)") from None
        except READ_ERRORS as exc:
            raise DataError(f"{self.label(name)}: cannot read: {read_error(exc)}") from None

    def label(self, name: str) -> str:
        """How messages name a file: its path, or the zip and the member."""
        return f"{self.where}:{self.files[name]}" if self.archive is not None else self.files[name]

    def skills(self) -> dict[str, spec.Skill]:
        """The skill files by name (their stem), in skill order."""
        found: dict[str, spec.Skill] = {}
        for name in self.files:
            folder, _, file = name.partition("/")
            if folder != SKILLS_FOLDER or not file.endswith(".json"):
                continue
            stem = file[: -len(".json")]
            skill = spec.skill_of_file(stem)
            if skill is None:
                raise DataError(f"{self.label(name)}: not a skill file of the release (expected "
                                f"{SKILLS_FOLDER}/skill1_<name>.json to skill4_<name>.json)")
            taken = next((other for other, s in found.items() if s == skill), None)
            if taken:
                raise DataError(f"{self.label(name)}: a second file for skill {skill.number} (after {taken}.json)")
            found[stem] = skill
        return dict(sorted(found.items(), key=lambda item: item[1].number))

    def tasks(self) -> dict[str, tuple[str, str]]:
        """The per-task files: task name -> (task type, file name), in folder then name order."""
        found: dict[str, tuple[str, str]] = {}
        for task_type, folder in TASK_FOLDERS.items():
            ending = TASK_FILE_ENDING + (".csv" if task_type == spec.MULTIPLE_CHOICE else ".json")
            for name in sorted(self.files):
                inside, _, file = name.partition("/")
                if inside != folder or not file.endswith(ending):
                    continue
                task = file[: -len(ending)]
                if task in found:
                    raise DataError(f"{self.label(name)}: task '{task}' is also {found[task][1]}")
                found[task] = (task_type, name)
        return found


def _listing(path: Path) -> list[str]:
    """The files of a folder that can belong to the release, relative to it: those in a
    known folder at the top or one level down (so a large unrelated folder is not walked)."""
    names = []
    for top in [path, *(p for p in sorted(path.iterdir()) if p.is_dir())]:
        for folder in KNOWN_FOLDERS:
            if (top / folder).is_dir():
                names += [f.relative_to(path).as_posix() for f in sorted((top / folder).iterdir()) if f.is_file()]
    return names


def _top(where: str, names: list[str]) -> str:
    """The folder inside the release's container that holds its folders: "" for the top,
    else the one folder above them (zips often hold data/...)."""
    tops = set()
    for name in names:
        parts = name.split("/")
        if len(parts) == 2 and parts[0] in KNOWN_FOLDERS:
            tops.add("")
        elif len(parts) == 3 and parts[1] in KNOWN_FOLDERS and parts[0] != "__MACOSX":
            tops.add(parts[0])
    if "" in tops:
        return ""
    if len(tops) == 1:
        return tops.pop()
    if tops:
        raise DataError(f"{where}: {len(tops)} releases ({', '.join(sorted(tops))}); point --data at one of them")
    raise DataError(f"{where}: {EXPECTED}")


def open_release(path) -> Release:
    """The release at `path` (a folder or a zip), or a one-line DataError saying what was expected."""
    where = str(path)
    archive = None
    if Path(path).is_dir():
        try:
            names = _listing(Path(path))
        except OSError as exc:
            raise DataError(f"{exc.filename or where}: cannot read: {exc.strerror}") from None
    else:
        check_input(path)
        try:
            archive = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise DataError(f"{where}: cannot read as a zip ({getattr(exc, 'strerror', None) or exc})") from None
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
    prefix = _top(where, names)
    prefix += "/" if prefix else ""
    files = {}
    for name in names:
        inside = name[len(prefix):]
        if name.startswith(prefix) and inside.count("/") == 1:
            files[inside] = name if archive is not None else str(Path(path) / name)
    return Release(where, files, archive)


def _skill_questions(release: Release, name: str, skill: spec.Skill, questions: list[Question], pooled: dict) -> None:
    label = release.label(name)
    for line, record in json_lines(release.open(name), label):
        question = replace(question_from_record(label, line, len(questions), record), track=skill.track)
        check_task_kind(pooled, question, label, line)
        questions.append(question)


def _choices(label: str, line: int, text: str) -> list:
    """The choices column: a Python list literal (the task-wise script eval()s it; we only
    read literals)."""
    try:
        choices = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        choices = None
    if not isinstance(choices, (list, tuple)) or len(choices) < SHOWN_CHOICES:
        raise DataError(f"{label}:{line}: field 'choices': expected a list of at least {SHOWN_CHOICES} choices, "
                        f"got {text[:60]!r}")
    return list(choices)


def _multiple_choice_records(release: Release, name: str, task: str):
    """(line, record) of a per-task CSV, its prompt built as the task-wise script builds it."""
    label = release.label(name)
    # A question can be longer than csv's default field limit of 128 KiB: commands lift it
    # at their start (data.CSV_FIELD_LIMIT).
    # Lines decoded one by one (a byte that is not UTF-8 is named by its line), BOM dropped.
    reader = csv.DictReader(csv_text(release.open(name), label))
    try:
        header = reader.fieldnames or []
        missing = [column for column in ("question", "choices", "answer") if column not in header]
        if missing and not (RATING_TASK in task and missing == ["choices"]):
            raise DataError(f"{label}:1: missing column '{missing[0]}' (expected question, choices, answer)")
        for row in reader:
            line = reader.line_num
            try:
                answer = int(row.get("answer") or "")
            except ValueError:
                raise DataError(f"{label}:{line}: field 'answer': expected an integer, "
                                f"got {(row.get('answer') or '')[:60]!r}") from None
            choices = [] if RATING_TASK in task else _choices(label, line, row.get("choices") or "")
            record = {"input_field": multiple_choice_prompt(task, row.get("question") or "", choices),
                      "answer": answer, "task_name": task, "task_type": spec.MULTIPLE_CHOICE,
                      "metric": metric_registry.task_wise_metric(spec.MULTIPLE_CHOICE, task)}
            yield line, record
    except csv.Error as exc:
        raise DataError(f"{label}:{reader.line_num}: not valid CSV ({exc})") from None


def _task_questions(release: Release, task: str, task_type: str, name: str, questions: list[Question],
                    pooled: dict) -> None:
    label = release.label(name)
    if task_type == spec.MULTIPLE_CHOICE:
        rows = ((line, record, "answer") for line, record in _multiple_choice_records(release, name, task))
    else:
        metric = metric_registry.task_wise_metric(task_type, task)
        rows = (
            (line, {**record, "task_name": task, "task_type": task_type, "metric": metric},
             next((key for key in TASK_ANSWER_FIELDS if key in record), TASK_ANSWER_FIELDS[0]))
            for line, record in json_lines(release.open(name), label)
        )
    for line, record, answer_field in rows:
        question = question_from_record(label, line, len(questions), record, answer_field)
        check_task_kind(pooled, question, label, line)
        questions.append(question)


def load_questions(path, skill: str | None = None, task: str | None = None) -> list[Question]:
    """The release's questions: one skill file (`skill`, its name without .json), one
    per-task file (`task`), or by default every skill file (else every per-task file).
    Every problem is one DataError line naming the file (and line)."""
    release = open_release(path)
    try:
        skills = release.skills()
        questions: list[Question] = []
        pooled: dict = {}
        if skill is not None:
            if skill not in skills:
                known = ", ".join(skills) or f"none, no {SKILLS_FOLDER}/ folder"
                raise DataError(f"{release.where}: no skill '{skill}' (skills: {known})")
            _skill_questions(release, f"{SKILLS_FOLDER}/{skill}.json", skills[skill], questions, pooled)
        elif task is not None:
            tasks = release.tasks()
            if task not in tasks:
                known = ", ".join(tasks) or "none"
                raise DataError(f"{release.where}: no per-task file for task '{task}' (tasks: {known})")
            _task_questions(release, task, *tasks[task], questions, pooled)
        elif skills:
            for stem, chosen in skills.items():
                _skill_questions(release, f"{SKILLS_FOLDER}/{stem}.json", chosen, questions, pooled)
        else:
            for name, (task_type, file) in release.tasks().items():
                _task_questions(release, name, task_type, file, questions, pooled)
    finally:
        if release.archive is not None:
            release.archive.close()
    if not questions:
        raise DataError(f"{release.where}: no questions")
    return questions
