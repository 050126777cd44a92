"""Small models that break or bend the evaluator's interface on purpose."""
from models.dummy_model import DummyModel


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
