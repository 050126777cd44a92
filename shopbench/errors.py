"""The error every reader of input raises: one line naming the file (or variable), line and
field. It lives below every reader (data files, JSON from the environment, weights) so each
of them can raise it without importing the others."""
from __future__ import annotations


class DataError(ValueError):
    """Bad input; the message is one line naming where (file, line, field or variable) and what."""
