import json
import re

import pytest

import run
from routing import anatomy
from routing.classifier import TITLE, classify
from shopbench import spec
from tests.conftest import write_jsonl
from tests.paraphrases import PARAPHRASES


def test_dev_set_task_types_all_right(dev_records):
    for record in dev_records:
        assert classify(record["input_field"], record["is_multiple_choice"]).task_type == record["task_type"]
        # without the flag too: structure alone decides
        assert classify(record["input_field"], None).task_type == record["task_type"]


def test_dev_keyphrase_task_decodes_like_ner(dev_records):
    task6 = [r for r in dev_records if r["task_name"] == "task6"]
    assert {(classify(r["input_field"], False).task_type, classify(r["input_field"], False).profile) for r in task6} == {
        (spec.GENERATION, spec.NER)
    }


@pytest.mark.parametrize("prompt, flag, task_type, profile", PARAPHRASES, ids=[p[0][:40] for p in PARAPHRASES])
def test_paraphrases(prompt, flag, task_type, profile):
    route = classify(prompt, flag)
    assert (route.task_type, route.profile) == (task_type, profile)


def test_flag_false_is_never_multiple_choice(dev_records):
    # Prompts that look most like multiple choice: options, a rating scale, an answer slot.
    looks_like_mc = [r["input_field"] for r in dev_records if r["is_multiple_choice"]] + [
        "Which of these fit a query 'tent'?\n0. tent stakes\n1. sofa\n2. tarp\n3. pan\nAnswer:",
        "Rate this review on a scale of 1 to 5.\nReview: great\nAnswer:",
        "What is the best product for the query 'shoes'?\nAnswer:",
    ]
    for prompt in looks_like_mc:
        assert classify(prompt, False).task_type != spec.MULTIPLE_CHOICE
        assert classify(prompt, True).task_type == spec.MULTIPLE_CHOICE


def test_unknown_flag_reads_multiple_choice_from_structure():
    assert classify("Pick one\n0. a\n1. b\n2. c\nAnswer:", None).task_type == spec.MULTIPLE_CHOICE
    assert classify("Rate it from 1 to 5.\nReview: ok\nAnswer:", None).task_type == spec.MULTIPLE_CHOICE
    # an answer slot alone is what many free-text prompts end with
    assert classify("What is this category about?\nInput: Toggle Switch\nAnswer:", None).task_type == spec.GENERATION


@pytest.mark.parametrize(
    "lines, numbers",
    [
        (["1. a", "2. b", "3. c"], (1, 2, 3)),
        (["0.a", "1.b"], (0, 1)),
        (["(1) a", "(2) b"], (1, 2)),
        (["[1] a", "[2] b", "[3] c"], (1, 2, 3)),
        (["1) a", "2) b"], (1, 2)),
        (["1. a", "continued", "2. b"], (1, 2)),
        (["1. steps", "2. more", "Options:", "0. x", "1. y", "2. z"], (0, 1, 2)),  # the last list wins
        (["1. a", "3. b"], None),  # not consecutive
        (["2.5 inch lift", "3.5 inch"], None),  # decimals are not numbering
        (["5. a", "6. b"], None),  # must start at 0 or 1
    ],
)
def test_candidate_lists(lines, numbers):
    found = anatomy.read("Question text\n" + "\n".join(lines) + "\nOutput:").candidates
    assert (found.numbers if found else None) == numbers


def test_options_in_the_middle_and_counts_in_words():
    prompt = "Candidates:\n1. a\n2. b\n3. c\n4. d\n5. e\n6. f\nPick two of the candidates above that match.\nOutput:"
    route = classify(prompt, False)
    assert (route.task_type, route.candidates, route.answer_count) == (spec.RETRIEVAL, (1, 2, 3, 4, 5, 6), 2)
    assert anatomy.requested_count("output three numbers separated by comma") == 3
    assert anatomy.requested_count("top-5 products") == 5
    assert anatomy.requested_count("rank all products") is None


def test_multiple_choice_choices():
    assert classify("Rate it on a scale of 1 to 5.\nAnswer:", True).choices == (1, 2, 3, 4, 5)
    assert classify("How many stars?\nAnswer:", True).choices == tuple(range(10))
    assert classify("Pick one\n0. a\n1. b\n2. c\nAnswer:", True).choices == (0, 1, 2)


def test_prompts_that_fit_nothing_are_generation():
    for prompt in ["", "   ", "Bonjour", "日本語の質問です。", "Output:"]:
        assert classify(prompt, False).task_type == spec.GENERATION


def test_classify_command_reports_accuracy_and_confusions(tmp_path, capsys):
    output = tmp_path / "routes.jsonl"
    assert run.main(["classify", "--data", str(spec.DEV_DATA), "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "task_type accuracy: 96/96 (100.0%)" in out
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == 96 and set(lines[0]) == {"task_type", "profile"}


def test_classify_command_on_unlabelled_prompts(tmp_path, capsys):
    path = write_jsonl(tmp_path / "p.jsonl", [{"input_field": p} for p, *_ in PARAPHRASES[:5]])
    assert run.main(["classify", "--data", str(path)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 5 and "accuracy" not in captured.out + captured.err


def test_classify_command_bad_data(tmp_path, capsys):
    path = write_jsonl(tmp_path / "p.jsonl", [{"input_field": "x"}, {"prompt": "y"}])
    assert run.main(["classify", "--data", str(path)]) == 2
    assert "p.jsonl:2: field 'input_field': missing" in capsys.readouterr().err


def test_classify_command_reports_tasks_and_lists_misses(tmp_path, capsys):
    rows = [
        {"input_field": "Explain what a toggle switch is.\nOutput:", "task_type": spec.GENERATION, "task_name": "explain"},
        {"input_field": "Explain what a router is.\nOutput:", "task_type": spec.GENERATION, "task_name": "explain"},
        # labelled wrongly on purpose: routing says generation
        {"input_field": "Describe this lamp in one sentence.\nOutput:", "task_type": spec.RANKING, "task_name": "odd"},
    ]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    assert run.main(["classify", "--data", str(path), "--output", str(tmp_path / "r"), "--show-misses", "5"]) == 0
    out = capsys.readouterr().out
    assert "task_type accuracy: 2/3" in out
    task_rows = [line.split() for line in out.splitlines() if line.startswith(("odd ", "explain "))]
    assert task_rows == [["odd", "0", "1", "0.0%"], ["explain", "2", "2", "100.0%"]]  # worst first
    assert "misrouted (1 of 1):" in out and "odd: ranking -> generation: Describe this lamp in one sentence. Output:" in out


def test_classify_command_refuses_a_negative_miss_count(capsys):
    with pytest.raises(SystemExit) as stop:
        run.main(["classify", "--show-misses", "-1"])
    assert stop.value.code == 2 and "--show-misses: must be an integer from 0 to" in capsys.readouterr().err


def test_a_prompt_is_read_once_into_its_parts():
    prompt = ("Pick two of the products below for the query.\nQuery: trail shoes\nBrand: ____\n"
              "1. Salomon trail runner\n   waterproof\n2. Sofa cover\n3. Hiking socks\nOutput:")
    read = anatomy.read(prompt)
    assert read is anatomy.read(prompt)  # the classifier, the constraint and the repair share it
    assert (read.candidates.numbers, read.candidates.first_line, read.candidates.last_line) == ((1, 2, 3), 3, 6)
    assert read.candidate_texts == {1: "Salomon trail runner waterproof", 2: "Sofa cover", 3: "Hiking socks"}
    assert read.fields == (("query", "trail shoes"), ("brand", "____"))
    assert read.blanks == ("brand",)
    assert (read.last_line, read.answer_label) == ("Output:", "")  # "Output" gives an order: no field
    assert anatomy.read("Which brand is it?\nTitle: Nike Air\nBrand:").answer_label == "brand"
    assert read.is_answer_slot("Output") and read.is_answer_slot("Antwort") and not read.is_answer_slot("Query")
    assert read.subject_text == "____" and read.data_text == "trail shoes\n____"
    assert read.instruction.startswith("pick two of the products below for the query.")
    assert "salomon" not in read.instruction and "trail shoes" not in read.instruction
    assert read.requested_count == 2 and read.rating_range is None
    with pytest.raises(AttributeError):
        read.prompt = "changed"


def test_an_answer_slot_with_a_full_width_colon_is_no_subject():
    # the subject text is the fallback NER answer: never the slot's own label
    assert anatomy.read("ブランドを抽出してください。\nパナソニック ドライヤー ナノケア\n回答：").subject_text == "パナソニック ドライヤー ナノケア"
    assert anatomy.read("Extract the brand.\nNike Air Max 90\nAnswer:").subject_text == "Nike Air Max 90"


def test_the_rules_are_one_ordered_table_walked_first_match():
    from routing.classifier import RULES, rule_of

    assert [rule.name for rule in RULES] == ["multiple choice", "numbers of the list asked for", "extraction",
                                             "selection from the list", "generation"]
    listing = "\n1. tent\n2. sofa\n3. tarp\n4. pan\n5. rope\n6. lamp\n7. stove"
    assert rule_of("Pick one\n0. a\n1. b\nAnswer:", True) == "multiple choice"
    assert rule_of("Rank the products by relevance to 'camping'." + listing, False) == "numbers of the list asked for"
    assert rule_of("Extract the brand from the title.\nTitle: Nike Air Max 90", False) == "extraction"
    assert rule_of("Which products would a camper buy?" + listing, False) == "selection from the list"
    assert rule_of("Explain what a tent footprint is.", False) == "generation"
    # a flag that is no bool is unknown, for the rule and the route alike
    assert rule_of("Pick one\n0. a\n1. b\nAnswer:", "yes") == "multiple choice"
    assert classify("Explain it.\n0. a\n1. b\nAnswer:", 1) == classify("Explain it.\n0. a\n1. b\nAnswer:", None)


NER, GEN = (spec.NER, spec.NER), (spec.GENERATION, spec.GENERATION)
TITLED = (spec.GENERATION, TITLE)  # generation that asks for a title (the title noun after an asking verb)
# The three kinds of prompt another team's set found misrouted, each in many phrasings, and
# their near neighbours that must keep their route.
MISS_CLASSES = [
    # An entity question with a quoted slot label and a quoted title, without the word "entity": NER.
    ("Identify the 'NAME' in the product title 'Apple iPhone 13 Pro Max 256GB Sierra Blue Unlocked'.", NER),
    ("Determine the 'BRAND' in the product title \"Hamilton Beach 2-Way Brewer Coffee Maker, Single-Serve\".", NER),
    ("Select the 'TYPE' from the product title 'Carhartt Men's Knit Cuffed Beanie, Acrylic, One Size, Black'.", NER),
    ("Please identify the \"COLOR\" mentioned in the product title 'Nike Air Max 90 Men's Running Shoes White/Red'.",
     NER),
    ("In the product title 'Samsung 65-inch Class QLED 4K Smart TV', what is the 'SIZE'?", NER),
    ("Find the 'MATERIAL' within the following product title: 'Stainless Steel Insulated Water Bottle 32oz'", NER),
    ("Identify the 'STYLE' in the product title 'Levi's 501 Original Fit Men's Jeans'. Output only the value.", NER),
    ("Determine the 'PRODUCT' in the product title 'Bose QuietComfort 45 Bluetooth Noise Cancelling Headphones'.",
     NER),
    ("Given the product title 'Anker PowerCore 10000 Portable Charger, Ultra-Compact', identify the 'MODEL'.", NER),
    ("Locate the 'GENDER' in the product title 'Under Armour Women's Tech 2.0 Short-Sleeve T-Shirt, Black'.", NER),
    ("Identifiez la 'MARQUE' dans le titre du produit 'Tefal Ingenio Batterie de cuisine 13 pièces'.", NER),
    ("Identifica el 'COLOR' en el título del producto 'Camiseta deportiva de hombre, azul marino, talla L'.", NER),
    ("Bestimme den 'TYP' im Produkttitel 'Bosch Professional Akku-Bohrschrauber GSR 18V-55'.", NER),
    ("Product title: 'JBL Flip 6 Portable Bluetooth Speaker, Waterproof, Blue'\n"
     "Identify the \"NAME\" in the product title above.", NER),
    ("Select the 'FLAVOR' in the product title \"Starbucks Ground Coffee, Pike Place Roast, Medium Roast, 28 oz\".",
     NER),
    ("Please determine the 'PATTERN' mentioned in the product title 'Amazon Essentials Women's Plaid Flannel "
     "Shirt'. Reply with the value only.", NER),
    ("What is the 'CAPACITY' in the product title 'Hydro Flask 40 oz Wide Mouth Bottle with Flex Chug Cap'?", NER),
    ("Identify the ‘NAME’ in the product title ‘Apple iPhone 13 Pro Max 256GB Sierra Blue Unlocked’.", NER),
    ("Can you identify the 'TYPE' in this product title: 'Carhartt Men's Knit Cuffed Beanie, Acrylic, Black'?", NER),
    ("What does 'BPA free' mean in the product title 'Nalgene Tritan Wide Mouth BPA-Free Water Bottle 32oz'?", TITLED),
    ("Explain the 'material' in the product title 'Stainless Steel Insulated Water Bottle 32oz'.", TITLED),
    ("Write a description for the 'NAME' in the product title 'Bose QuietComfort 45 Headphones'.", TITLED),
    # A customer's question about a product with an order to answer it: generation.
    ("A customer asked: 'How heavy is this vacuum?' Answer the customer's question based on the product "
     "information.\nProduct: Dyson V8 Absolute Cordless Vacuum, weight 2.55 kg, run time 40 minutes", GEN),
    ("Answer this shopper's question about the product: What is the screen size of this laptop?\n"
     "Product title: Dell XPS 13 9315 Laptop, 13.4-inch FHD+ Display, Intel Core i5", GEN),
    ("Read the product details and answer the user's question.\nProduct: Instant Pot Duo 7-in-1, 6 quart, 1000 W\n"
     "User question: What is the wattage of this pressure cooker?", GEN),
    ("You are a shopping assistant. A buyer wants to know: what are the dimensions of this desk? Respond to the "
     "buyer using the product description below.\nDescription: Computer desk, 47 x 24 x 30 inches, steel frame", GEN),
    ("Based on the product information, reply to the customer question \"what is the weight of this tent?\"\n"
     "Product: Coleman Sundome 4-Person Tent, 9 x 7 ft, weighs 9.9 lbs", GEN),
    ("A shopper asked: \"Is this tent big enough for four adults?\" Please answer the shopper's question using the "
     "product details.\nProduct: Coleman Sundome 4-Person Tent, 9 x 7 ft floor, 59 in center height", GEN),
    ("The following customer question was asked on a product page: what is the weight of this stroller? Answer it "
     "using the description.\nDescription: Lightweight stroller, 13 lbs, one-hand fold", GEN),
    ("A user wants to know: what size is this rug? Reply to the user based on the listing.\n"
     "Listing: Safavieh Hudson Shag Rug, 5 ft 1 in x 7 ft 6 in, grey", GEN),
    ("Beantworte die Frage des Kunden: Wie schwer ist dieser Staubsauger?\nProdukt: Dyson V8, Gewicht 2,55 kg", GEN),
    ("Un client demande : quelle est la capacité de cette bouteille ? Répondez à la question du client.\n"
     "Produit : Gourde isotherme 750 ml, acier inoxydable", GEN),
    ("Write a helpful answer to the buyer's question below.\nBuyer's question: what are the dimensions of the box?\n"
     "Product: Storage box, 40 x 30 x 25 cm, with lid", GEN),
    ("Customer: what's the capacity of this rice cooker?\nProduct info: Zojirushi NS-TSC10, 5.5 cups\n"
     "Respond to the customer's question.", GEN),
    ("Please answer the customer question below using the product details.\nQuestion: What size batteries does "
     "this remote take?\nProduct: Universal TV remote, uses 2 AAA batteries", GEN),
    ("A customer asks which brand this is. Copy the brand exactly as written in the title.\n"
     "Title: Nike Air Max 90 Men's Shoes", NER),
    ("Question: How much does this kettle weigh?\nProduct: Bosch TWK3A011, 1.7 l, 1.1 kg\nPlease answer the question.",
     GEN),
    ("Based on the product information, answer the following question: what is the capacity of this bottle?\n"
     "Product: CamelBak Chute Mag, 32 oz, BPA free", GEN),
    # the answer held to a value, or copying asked: the cheaper route is the copy (the cost rule)
    ("Question: What is the brand of this product?\nTitle: Nike Air Max 90 Men's Shoes\n"
     "Answer the question with the brand only.", NER),
    ("What is the brand of this product? Answer the question by copying it from the title.\n"
     "Title: Nike Air Max 90 Men's Shoes", NER),
    ("What colour is mentioned in this product title? Answer with the colour only.\n"
     "Title: Tommy Hilfiger Men's Polo, navy blue", NER),
    # Keywords, main characteristics or key features drawn from a title and a description: generation.
    ("Extract four keywords from the following product title and description.\nTitle: Zinus 12 Inch Green Tea "
     "Memory Foam Mattress\nDescription: Cooling gel foam, CertiPUR-US certified, bed in a box", GEN),
    ("Extract the main characteristics of the product from its title and description.\nTitle: Anker Soundcore Life "
     "Q20 Headphones\nDescription: Hybrid active noise cancelling, 40H playtime, Hi-Res audio", GEN),
    ("Extract the key features from the product title and description below.\nTitle: Ninja AF101 Air Fryer, 4 Qt\n"
     "Description: Wide temperature range, dishwasher-safe parts, 1550 watts", GEN),
    ("From the title and description, extract 3 keywords that describe the product.\nTitle: Lodge Cast Iron "
     "Skillet 10.25 inch\nDescription: Pre-seasoned, oven safe, even heating", GEN),
    ("Extract four keywords from the title and description below.\nTitle: Vitamix E310 Explorian Blender\n"
     "Description: 48 oz container, 10 variable speeds, pulse feature", GEN),
    ("Please extract 5 key words that describe this product, based on its title and description.\n"
     "Title: Osprey Daylite Plus Daypack\nDescription: 20 litre pack with mesh back panel", TITLED),
    ("Identify the main features of the following product from its title and description.\n"
     "Title: Apple Watch SE GPS 40mm\nDescription: Crash detection, heart-rate notifications, water resistant", GEN),
    ("Pull out the key selling points from this product description.\nDescription: Our chef's knife is forged from "
     "German steel, holds its edge, and has an ergonomic handle.", GEN),
    ("Extrahiere vier Schlüsselwörter aus dem folgenden Produkttitel und der Beschreibung.\n"
     "Titel: Bosch Serie 4 Geschirrspüler\nBeschreibung: 13 Maßgedecke, leise, EcoSilence Drive", GEN),
    ("Extrayez les caractéristiques principales du produit à partir du titre et de la description.\n"
     "Titre : Philips Airfryer XL\nDescription : 1,2 kg, 7 programmes", GEN),
    ("Extract the main characteristics of the item.\nProduct title: Samsonite Winfield 2 Hardside Luggage, 28 inch\n"
     "Product description: Polycarbonate shell, spinner wheels, TSA lock", GEN),
    ("Extract keywords:\nTitle: Bose SoundLink Flex Bluetooth Speaker\nDescription: Waterproof, 12 hours battery",
     GEN),
    ("Extract the keywords from the search query that describe the product type.\n"
     "Query: waterproof hiking boots for women", NER),
    ("Extract the features the reviewer praises from the review below.\nReview: Battery life is amazing and the "
     "screen is bright, but the speakers are weak.", NER),
    ("Extract the keyphrases from the review.\nReview: Great fit, soft fabric, runs a bit small.",
     (spec.GENERATION, spec.NER)),
]


@pytest.mark.parametrize("prompt, route", MISS_CLASSES, ids=[p[:40] for p, _ in MISS_CLASSES])
def test_the_three_miss_classes_and_their_neighbours(prompt, route):
    found = classify(prompt, False)
    assert (found.task_type, found.profile) == route


def test_the_per_line_shortcuts_read_every_line_as_the_full_patterns_do():
    # _field_label skips lines with no colon and no heading mark, _gives_order the CJK request
    # search on ASCII lines, _markers reads a number as the last group: no reading changes, on
    # every dev and corpus line
    from pathlib import Path

    from shopbench import data

    corpus = Path(__file__).parent / "data" / "routing_corpus.jsonl"
    lines = {line.strip() for path in (spec.DEV_DATA, corpus) for p in data.load_prompts(path)
             for line in p.input_field.splitlines()}
    lines |= {"Label: x", "### Query", "商品：靴", "# heading:", "no colon here", "请 order", "Order: 请写"}
    lines |= {"(2) b", "[3] c", "| 4 | d |", "Listing 5 — e", '"6": f', '{"id": 7}', "#8 g", "option (9) h", "A/11 - j"}
    lines |= {"Listing 12 x", "abcdefghijklm 1. x", "abcdefghijkl 1. x", "Option #3: x", "Produkt 4) x", "item 5 - x"}
    # the word before a number is read without backtracking: as the backtracking form reads it
    backtracking = re.compile(anatomy._NUMBERED_LINE.pattern.replace("{1,12}+", "{1,12}"), anatomy._NUMBERED_LINE.flags)
    assert backtracking.pattern != anatomy._NUMBERED_LINE.pattern
    for line in lines:
        numbered = anatomy._NUMBERED_LINE.match(line)  # its number is read as the last group to close
        assert numbered is None or [numbered.group(numbered.lastindex)] == [g for g in numbered.groups() if g]
        again = backtracking.match(line)
        assert (numbered and numbered.span(), numbered and numbered.groups()) == (again and again.span(), again and again.groups())
        assert anatomy._field_label(line) == anatomy._read_field(line)
        assert anatomy._gives_order(line) == bool(anatomy._STARTS_INSTRUCTION.match(line) or anatomy._CJK_REQUEST.search(line))


def test_opinion_stems_are_found_inside_compound_words():
    from routing.classifier import _OPINION_SOURCE

    for said in ("lies die kundenrezension", "produktbewertungen", "rezension", "die bewertung des kunden"):
        assert _OPINION_SOURCE.search(said), said
    assert not _OPINION_SOURCE.search("the brand of the shoe")


def test_a_part_read_once_is_kept_in_the_instance():
    from routing.once import once

    calls = []

    class Reading:
        @once
        def part(self):
            """The part."""
            calls.append(self)
            return len(calls)

    first, second = Reading(), Reading()
    assert (first.part, first.part, second.part) == (1, 1, 2) and len(calls) == 2
    assert first.__dict__ == {"part": 1}
    assert isinstance(Reading.part, once) and Reading.part.__doc__ == "The part."



def test_the_top_count_is_searched_from_its_literal_with_the_same_boundary():
    """`top(?<!\\w...)` (searched as the literal "top") finds what `(?<!\\w)top` finds."""
    from pathlib import Path

    from shopbench import data

    pattern = anatomy._COUNT_PATTERNS[2]
    boundary_first = re.compile(pattern.pattern.replace("top(?<!\\w...)", "(?<!\\w)top", 1))
    assert boundary_first.pattern != pattern.pattern
    corpus = Path(__file__).parent / "data" / "routing_corpus.jsonl"
    texts = [anatomy.read(p.input_field).instruction for path in (spec.DEV_DATA, corpus) for p in data.load_prompts(path)]
    texts += ["top 3", "stop 3", "laptop3 top-4", "\ntop5", "x.top two", "_top 3", "étop 3", "3top 3", "the top three"]
    for text in texts:
        assert [m.span() for m in pattern.finditer(text)] == [m.span() for m in boundary_first.finditer(text)], text


def test_the_seldom_cues_searched_as_one_read_as_each_searched_alone():
    """`_Cues` searches the seldom cues' words as one first: each cue, asked in any order,
    reads as its own search reads on every dev and corpus instruction."""
    import random
    from pathlib import Path

    from routing.classifier import _ANY_SELDOM_CUE, _CUE_WORDS, _EXTRACTION_CUES, _SELDOM_CUES, _Cues
    from shopbench import data

    corpus = Path(__file__).parent / "data" / "routing_corpus.jsonl"
    texts = [anatomy.read(p.input_field).instruction for path in (spec.DEV_DATA, corpus) for p in data.load_prompts(path)]
    order = random.Random(0)
    names = list(_EXTRACTION_CUES)
    assert set(_SELDOM_CUES) <= set(_CUE_WORDS)
    for text in texts:
        order.shuffle(names)
        cues = _Cues(text)
        assert [cues[name] for name in names] == [_EXTRACTION_CUES[name](text) for name in names], text
    assert {_ANY_SELDOM_CUE(text) for text in texts} == {True, False}
