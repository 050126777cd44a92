"""Reading the public datasets' files, with one-line errors that name the file, the line
(or row) and the field. Only what a builder needs is read: the named columns of a parquet
file, the named fields of JSON and CSV records.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from shopbench import files, jsonsafe
from shopbench.data import READ_ERRORS, DataError, csv_text, read_error, read_json_lines

# Product descriptions run past csv's 128 KiB field limit: commands lift it at their start
# (data.CSV_FIELD_LIMIT, set by cli.main_guard).


def existing(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found")
    return path


def parquet_columns(path, columns: tuple[str, ...], optional: tuple[str, ...] = (),
                    text: tuple[str, ...] = ()) -> dict[str, list]:
    """The named columns as Python lists; a missing column or an empty table is an error. An
    `optional` column the file lacks reads as None in every row. Every column must hold single
    values (not lists or records), and each one named in `text` strings (or nothing)."""
    import pyarrow
    import pyarrow.parquet as pq

    path = existing(path)
    files.check_input(path)
    try:
        names = pq.read_schema(path).names
        missing = [column for column in columns if column not in names]
        if missing:
            raise DataError(f"{path}: column '{missing[0]}' missing (the file has: {', '.join(names)})")
        present = [column for column in optional if column in names]
        table = pq.read_table(path, columns=list(columns) + present)
    except (pyarrow.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable parquet file ({str(exc).splitlines()[0]})") from None
    for column in (*columns, *present):
        kind = table.schema.field(column).type
        if pyarrow.types.is_nested(kind):
            raise DataError(f"{path}: column '{column}': expected single values, the file holds {kind}")
        if column in text and not (pyarrow.types.is_string(kind) or pyarrow.types.is_large_string(kind)
                                   or pyarrow.types.is_null(kind)):
            raise DataError(f"{path}: column '{column}': expected text, the file holds {kind}")
    if table.num_rows == 0:
        raise DataError(f"{path}: no rows")
    read = {column: table.column(column).to_pylist() for column in (*columns, *present)}
    return {**{column: [None] * table.num_rows for column in optional}, **read}


def require(path, where, record: dict, fields: tuple[str, ...]) -> None:
    """`where`: the line number, or "record N" in a JSON array."""
    for name in fields:
        if name not in record:
            raise DataError(f"{path}:{where}: field '{name}': missing")


def json_lines(path, fields: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """(line, record) of a JSON Lines file (.gz too); every record must have `fields`."""
    empty = True
    for line, record in read_json_lines(existing(path)):
        require(path, line, record, fields)
        empty = False
        yield line, record
    if empty:
        raise DataError(f"{path}: no records")


def _read_all(path: Path) -> bytes:
    try:
        return files.read_document(path)
    except READ_ERRORS as exc:  # a corrupt or cut .gz
        raise DataError(f"{path}: cannot read: {read_error(exc)}") from None


def json_records(path, fields: tuple[str, ...]) -> Iterator[tuple[str, dict]]:
    """(where, record) of a JSON array file or a JSON Lines file, told apart by the first
    character; `where` is the line number ("N", as in every other message about a JSON
    Lines file) or "record N" in an array, for error messages."""
    path = existing(path)
    try:
        with files.open_input(path) as handle:
            start = handle.read(4096).lstrip()[:1]
    except READ_ERRORS as exc:
        raise DataError(f"{path}: cannot read: {read_error(exc)}") from None
    if start != b"[":
        for line, record in json_lines(path, fields):
            yield str(line), record
        return
    # NaN stays readable: the release writes NaN for missing values, which the builders read as none.
    records = jsonsafe.loads(_read_all(path), str(path), finite=False, line_numbers=True)
    if not isinstance(records, list):  # "[1] junk" is not JSON; anything else starting with "[" is a list
        raise DataError(f"{path}: expected a JSON array of records")
    if not records:
        raise DataError(f"{path}: no records")
    for number, record in enumerate(records, start=1):
        where = f"record {number}"
        if not isinstance(record, dict):
            raise DataError(f"{path}:{where}: expected a JSON object")
        require(path, where, record, fields)
        yield where, record


def _csv_lines(path: Path) -> Iterator[str]:
    """The file's lines for csv: a byte that is not UTF-8 is named by its line."""
    return csv_text(files.open_input(path), path)


def csv_rows(path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """(line, row) of a CSV file with a header that has every one of `columns`."""
    path = existing(path)
    reader = csv.DictReader(_csv_lines(path))
    try:
        header = reader.fieldnames
        if not header:
            raise DataError(f"{path}: empty file")
        missing = [column for column in columns if column not in header]
        if missing:
            raise DataError(f"{path}:1: column '{missing[0]}' missing (the header has: {', '.join(header)})")
        empty = True
        for row in reader:
            empty = False
            yield reader.line_num, row
        if empty:
            raise DataError(f"{path}: no rows after the header")
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None


def csv_lists(path) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of a CSV file without a header; blank lines are skipped."""
    path = existing(path)
    reader = csv.reader(_csv_lines(path))
    try:
        for fields in reader:
            if fields:
                yield reader.line_num, fields
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
