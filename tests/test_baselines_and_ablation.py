"""The starter kit's zero-shot baseline, and the ablation benchmark that measures the
pipeline's pieces against it."""
import json

import pytest

from shopbench.decoding_config import DecodingConfig
from models.baselines import KIT, KitBaseline
from models.settings import ModelSettings
from shopbench.data import load_questions
from shopbench.report import decoding_line
from shopbench.runner import run
from shopbench import spec
from tests.conftest import tiny_shop_model


class Recording:
    """An engine wrapper that keeps the requests it was given."""

    def __init__(self, engine):
        self.engine, self.requests = engine, []
        self.name, self.tokenizer = engine.name, engine.tokenizer
        self.max_model_len, self.token_list_cap = engine.max_model_len, engine.token_list_cap

    def generate(self, requests):
        self.requests += requests
        return self.engine.generate(requests)


@pytest.mark.engine
def test_the_kit_baseline_sends_its_text_raw_and_unconstrained(transformers_engine, dev_records):
    engine = Recording(transformers_engine)
    baseline = KitBaseline(ModelSettings("tiny", "transformers", "test"), engine=engine)
    records = dev_records[:3]
    answers = baseline.batch_answer({"prompt": [r["input_field"] for r in records]}, True)
    tokenizer = transformers_engine.tokenizer
    for record, request in zip(records, engine.requests):
        assert tokenizer.decode(request.prompt_token_ids) == KIT.system_text + record["input_field"]
        assert request.constraint.max_new_tokens == 1 and request.constraint.allowed_token_ids is None
        assert not request.constraint.logit_bias and request.stop_token_ids == (tokenizer.eos_token_id,)
    assert all(a.repaired is False for a in answers)
    baseline.batch_answer({"prompt": ["Name a brand.\nQuery: nike shoes\nOutput:"]}, False)
    assert engine.requests[-1].constraint.max_new_tokens == 100
    # never raises on a prompt, as the evaluator needs
    assert len(baseline.batch_predict({"prompt": ["\ud800 odd", ""]}, False)) == 2


@pytest.mark.engine
def test_a_run_records_the_decoding_settings(transformers_engine):
    model = tiny_shop_model(transformers_engine, masks=False)
    questions = load_questions(spec.DEV_DATA)[:4]
    summary = run(model, questions).summary()
    assert summary["settings"]["decoding"] == DecodingConfig(masks=False).to_json()
    assert decoding_line(summary["settings"]["decoding"]) == "Decoding: masks=false"
    assert decoding_line(DecodingConfig().to_json()).startswith("Decoding: the defaults")


@pytest.mark.engine
def test_ablation_prints_every_variant_against_the_full_pipeline(tiny_qwen2, monkeypatch, tmp_path, capsys):
    from benchmarks import ablation

    monkeypatch.setenv("SHOPBENCH_MODEL_DIR", str(tiny_qwen2))
    monkeypatch.setenv("SHOPBENCH_ENGINE", "transformers")
    output = tmp_path / "ablation.json"
    assert ablation.main(["--limit", "10", "--replicates", "100", "--no-progress", "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    for variant in [*ablation.VARIANTS, ablation.KIT]:
        assert variant in printed
    rows = {row["variant"]: row for row in json.loads(output.read_text())["rows"]}
    assert rows[ablation.FULL]["parse_valid"] == 1.0 and "interval" not in rows[ablation.FULL]
    assert all(row["interval"][0] <= row["difference"] <= row["interval"][1]
               for name, row in rows.items() if name != ablation.FULL)


def test_ablation_refuses_a_model_it_cannot_take_apart(capsys):
    from benchmarks import ablation

    assert ablation.main(["--model", "models.baselines:KitBaseline"]) == 2
    assert "not ShopModel or a subclass" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ablation.main(["--replicates", "5"])
