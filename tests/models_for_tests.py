"""Small models that break or bend the evaluator's interface on purpose."""
from models.dummy_model import DummyModel
from models.shop_model import ShopModel


class NonStringModel(DummyModel):
    def batch_predict(self, batch, is_multiple_choice):
        return [None if i % 2 else 3 for i, _ in enumerate(batch["prompt"])]


class ShortModel(DummyModel):
    def batch_predict(self, batch, is_multiple_choice):
        return super().batch_predict(batch, is_multiple_choice)[1:]


class RefusingModel(DummyModel):
    def __init__(self):
        raise AssertionError("the model must not be built")


class RecordingModel(DummyModel):
    calls = []

    def get_batch_size(self):
        return 3

    def batch_predict(self, batch, is_multiple_choice):
        RecordingModel.calls.append((len(batch["prompt"]), is_multiple_choice))
        return super().batch_predict(batch, is_multiple_choice)


class HalfFailingModel(DummyModel):
    """A model that explains its answers (`batch_answer`) and whose engine fails on every
    other question: those get the repaired fallback "1", marked failed, as the UserModel does."""

    time_guard_on = False
    run_settings = {"model": "half-failing test model"}

    def batch_answer(self, batch, is_multiple_choice):
        from shopbench.protocol import Answer

        texts = self.batch_predict(batch, is_multiple_choice)
        return [Answer("1", "generation", "generation", repaired=True, generated_tokens=0, failed=True) if i % 2
                else Answer(text, "generation", "generation", repaired=False, generated_tokens=3, failed=False)
                for i, text in enumerate(texts)]


class SlowModel(DummyModel):
    """Answers nothing for a minute, after touching the file $SHOPBENCH_TEST_STARTED: a run to interrupt."""

    def batch_predict(self, batch, is_multiple_choice):
        import pathlib
        import time

        from shopbench import environment

        pathlib.Path(environment.get(environment.TEST_STARTED_ENV)).touch()
        time.sleep(60)
        return super().batch_predict(batch, is_multiple_choice)


class RefusingEngine:
    """An engine in front of a real one that refuses every other batch, as a server that
    answers some requests with an error does."""

    def __init__(self, engine):
        self.engine, self.calls = engine, 0
        self.name, self.tokenizer = f"refusing {engine.name}", engine.tokenizer
        self.max_model_len, self.token_list_cap = engine.max_model_len, engine.token_list_cap

    def generate(self, requests):
        self.calls += 1
        if self.calls % 2:
            raise RuntimeError("HTTP 400: the server refused the batch")
        return self.engine.generate(requests)


class RefusedShopModel(ShopModel):
    """The UserModel over `RefusingEngine(RefusedShopModel.engine)`, built as --model builds
    it (no arguments); a test sets `engine` to a loaded engine first. A ShopModel subclass, so
    that --model's interface check sees the UserModel's methods."""

    engine = None

    def __new__(cls):
        from tests.conftest import tiny_shop_model

        return tiny_shop_model(RefusingEngine(cls.engine))


class EngineSeedModel(DummyModel):
    """Answers with the seeds the UserModel's engines would get: vLLM's and the server engines'."""

    def batch_predict(self, batch, is_multiple_choice):
        from models import settings

        vllm_seed = settings.from_environment().vllm.seed
        return [str(vllm_seed)] * len(batch["prompt"])


class GlobalRandomModel(DummyModel):
    """Answers from Python's and numpy's global generators, which a command seeds with --seed."""

    def batch_predict(self, batch, is_multiple_choice):
        import random

        import numpy

        return [f"{random.random():.6f} {numpy.random.random():.6f}" for _ in batch["prompt"]]
