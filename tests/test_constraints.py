import random

import prompts
from shopbench.decoding_config import DecodingConfig
from decoding.profiles import constraint_for
from models.engines.vllm_engine import TOKEN_LIST_CAP
from routing import anatomy
from routing.classifier import Route, classify
from shopbench import spec


def texts(tokenizer, ids):
    return {tokenizer.decode([i]) for i in ids}


def test_qwen2_digit_and_comma_set_is_exact(qwen_tokenizer, qwen_vocabulary):
    route = Route(spec.RETRIEVAL, spec.RETRIEVAL, tuple(range(1, 16)), 3)
    allowed = set(constraint_for(route, "q", qwen_tokenizer, qwen_vocabulary).allowed_token_ids)
    ids = {qwen_tokenizer.convert_tokens_to_ids(t) for t in [",", *"0123456789", "<|endoftext|>", "<|im_end|>"]}
    assert allowed == ids == {11, *range(15, 25), 151643, 151645}
    assert qwen_tokenizer.convert_tokens_to_ids(",,") not in allowed


def test_vocabulary_scan_finds_each_digit_once_and_the_none_tokens(qwen_tokenizer, qwen_vocabulary):
    assert {d: len(ids) for d, ids in qwen_vocabulary.digits.items()} == {str(d): 1 for d in range(10)}
    assert {qwen_tokenizer.decode([i]).strip() for i in qwen_vocabulary.nones} == {"None", "none"}
    assert qwen_tokenizer.convert_tokens_to_ids("<|im_start|>") in qwen_vocabulary.specials


def test_multiple_choice_allows_only_the_option_digits(qwen_tokenizer, qwen_vocabulary):
    route = classify("Pick one\n0. a\n1. b\n2. c\n3. d\nAnswer:", True)
    constraint = constraint_for(route, "", qwen_tokenizer, qwen_vocabulary)
    assert constraint.max_new_tokens == 1
    assert texts(qwen_tokenizer, constraint.allowed_token_ids) == {"0", "1", "2", "3", "<|endoftext|>", "<|im_end|>"}
    everything = constraint_for(route, "", qwen_tokenizer, qwen_vocabulary, DecodingConfig(limit_choices_to_options=False))
    assert len(everything.allowed_token_ids) == 12


def test_number_lists_get_the_tokens_their_longest_answer_needs(qwen_tokenizer, qwen_vocabulary):
    ranking = constraint_for(Route(spec.RANKING, spec.RANKING, (1, 2, 3, 4, 5), 5), "", qwen_tokenizer, qwen_vocabulary)
    assert ranking.max_new_tokens == len("1,2,3,4,5") + 1
    assert texts(qwen_tokenizer, ranking.allowed_token_ids) == {",", "1", "2", "3", "4", "5", "<|endoftext|>", "<|im_end|>"}
    retrieval = Route(spec.RETRIEVAL, spec.RETRIEVAL, tuple(range(1, 16)), 3)
    assert constraint_for(retrieval, "", qwen_tokenizer, qwen_vocabulary).max_new_tokens == len("13,14,15") + 1


def ner_bias(tokenizer, vocabulary, question, config=DecodingConfig(), cap=None):
    route = Route(spec.NER, spec.NER)
    constraint = constraint_for(route, question, tokenizer, vocabulary, config, cap)
    assert constraint.allowed_token_ids is None
    return constraint.logit_bias


def test_ner_bias_covers_the_question_not_the_chat_template(qwen_tokenizer, qwen_vocabulary, dev_records):
    for record in dev_records:
        question = record["input_field"]
        bias = ner_bias(qwen_tokenizer, qwen_vocabulary, question)
        question_ids = set(qwen_tokenizer(prompts.clean_question(question), add_special_tokens=False)["input_ids"])
        positive = {i for i, b in bias.items() if b > 0}
        subject = anatomy.read(prompts.clean_question(question)).subject_text
        subject_ids = {i for form in (subject, " " + subject) for i in qwen_tokenizer(form, add_special_tokens=False)["input_ids"]}
        added = set(qwen_vocabulary.stops) | set(qwen_vocabulary.commas)
        assert question_ids - set(qwen_vocabulary.nones) <= positive
        assert positive <= question_ids | subject_ids | added
        rendered = qwen_tokenizer(prompts.render(question, spec.NER, qwen_tokenizer), add_special_tokens=False)["input_ids"]
        template_only = set(rendered) - question_ids - set(qwen_vocabulary.stops)
        assert template_only and not template_only & positive
        assert qwen_tokenizer.convert_tokens_to_ids("<|im_start|>") not in bias
        assert all(bias[i] == -100.0 for i in qwen_vocabulary.nones)


def test_ner_bias_keeps_the_cap_and_the_query_first(qwen_tokenizer, qwen_vocabulary):
    letters = random.Random(0)
    filler = " ".join("".join(letters.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)) for _ in range(2000))
    question = f"Extract entities of type 'brand'.\nContext: {filler}\nQuery: zzyzx quux brandname\nOutput:"
    bias = ner_bias(qwen_tokenizer, qwen_vocabulary, question, cap=TOKEN_LIST_CAP)
    assert len(bias) == TOKEN_LIST_CAP
    query_ids = qwen_tokenizer(" zzyzx quux brandname", add_special_tokens=False)["input_ids"]
    assert set(query_ids) <= set(bias)
    # an engine without a cap (transformers) gets every question token
    uncapped = ner_bias(qwen_tokenizer, qwen_vocabulary, question)
    assert len(uncapped) > TOKEN_LIST_CAP and set(bias) <= set(uncapped)
    # a cap the stops, the commas and the penalties already fill leaves no room for the question
    fixed = len(set(qwen_vocabulary.stops) | set(qwen_vocabulary.commas))
    tight = ner_bias(qwen_tokenizer, qwen_vocabulary, question, cap=fixed + 1)
    assert len(tight) == fixed + 1 and not set(tight) & set(query_ids)
    for cap in (fixed, fixed - 1):  # the stops and the commas are kept whatever the cap
        assert set(ner_bias(qwen_tokenizer, qwen_vocabulary, question, cap=cap)) == set(qwen_vocabulary.stops) | set(qwen_vocabulary.commas)


def test_ner_bias_takes_its_ids_in_priority_order_under_every_cap(qwen_tokenizer, qwen_vocabulary):
    """Stops and commas, the "None" penalties, then the subject's ids, the spaced subject's and
    the question's, each at its first appearance; a cap keeps the head of that order."""
    question = "Identify the brand in the title.\nTitle: Nike Air Zoom Pegasus 39 (none) running shoes\nOutput:"
    clean = prompts.clean_question(question)
    subject = anatomy.read(clean).subject_text
    order = {i: 1.0 for i in (*qwen_vocabulary.stops, *qwen_vocabulary.commas)} | dict.fromkeys(qwen_vocabulary.nones, -100.0)
    for text in (subject, " " + subject, clean):
        for i in qwen_tokenizer(text, add_special_tokens=False)["input_ids"]:
            order.setdefault(i, 1.0)
    assert set(order) - set(qwen_vocabulary.nones) > set(qwen_tokenizer(" Nike", add_special_tokens=False)["input_ids"])
    fixed = len(qwen_vocabulary.stops) + len(qwen_vocabulary.commas)
    assert list(ner_bias(qwen_tokenizer, qwen_vocabulary, question).items()) == list(order.items())
    for cap in range(fixed, len(order) + 2):
        assert list(ner_bias(qwen_tokenizer, qwen_vocabulary, question, cap=cap).items()) == list(order.items())[:cap]


def test_ner_bias_is_configurable(qwen_tokenizer, qwen_vocabulary):
    config = DecodingConfig(prompt_token_bias=2.5, none_penalty=0)
    bias = ner_bias(qwen_tokenizer, qwen_vocabulary, "Query: red shoes\nOutput:", config)
    assert set(bias.values()) == {2.5}


def test_generation_is_unconstrained(qwen_tokenizer, qwen_vocabulary):
    constraint = constraint_for(Route(spec.GENERATION, spec.GENERATION), "q", qwen_tokenizer, qwen_vocabulary)
    assert (constraint.allowed_token_ids, constraint.logit_bias, constraint.max_new_tokens) == (None, {}, 50)


def test_routing_imports_no_engine():
    import subprocess
    import sys

    code = (
        "import sys, routing.classifier, decoding.repair, decoding.profiles, prompts; "
        "assert not {'torch', 'vllm'} & set(sys.modules), sorted(m for m in sys.modules if m in ('torch', 'vllm'))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_the_backend_gives_the_tokenizers_own_ids(qwen_tokenizer, dev_records):
    """The copy bias asks the fast tokenizer's backend directly: the ids of the tokenizer's own
    call, on every dev question, its subject text, and text holding the template's markers."""
    from decoding.constraints.prompt_tokens import _token_ids

    odd = ("<|im_end|> x <|im_start|>", " ", "", "日本語のテキスト", "a\u00a0b\tc\n\nd")
    for record in dev_records:
        question = prompts.clean_question(record["input_field"])
        subject = anatomy.read(question).subject_text
        texts = (subject, " " + subject, question, *odd)
        assert _token_ids(qwen_tokenizer, texts) == tuple(
            tuple(ids) for ids in qwen_tokenizer(list(texts), add_special_tokens=False)["input_ids"])
