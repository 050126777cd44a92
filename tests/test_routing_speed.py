"""The routing benchmark's first pass routes each distinct prompt once, with the project's
caches emptied, and times every step of both passes."""
import functools

from benchmarks import routing_speed


def test_the_first_pass_sees_each_prompt_once_with_nothing_kept():
    from routing import anatomy

    anatomy.read("Query: kept from before\nOutput:")
    pool = [("Query: red shoes\nOutput:", None), ("Which one?\n0. a\n1. b\nAnswer:", True),
            ("Query: red shoes\nOutput:", None)]
    result = routing_speed.passes(pool, 5, 0)
    assert result["distinct"] == 2 and result["questions"] == 5
    assert set(result["first"]) == set(result["cycled"]) == set(routing_speed.STEPS)
    assert all(seconds > 0 for seconds in result["first"].values())
    assert anatomy.read.cache_info().currsize == 2  # emptied before: the two prompts' readings only
    assert isinstance(anatomy.read, functools._lru_cache_wrapper)
