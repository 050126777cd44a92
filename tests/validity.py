"""What counts as a valid answer under the official parser of a question's true type,
checked without the routing code under test."""
from shopbench import parsers, spec


def is_valid(task_type: str, response) -> bool:
    if not isinstance(response, str):
        return False
    parsed = parsers.parse(task_type, response)
    if task_type == spec.MULTIPLE_CHOICE:
        return parsed != -1
    if task_type == spec.RANKING:
        return sorted(parsed) == [1, 2, 3, 4, 5]
    if task_type == spec.RETRIEVAL:
        return len(parsed) == 3 == len(set(parsed)) and min(parsed) >= 1
    return bool(parsed)
