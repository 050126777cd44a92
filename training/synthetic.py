"""Files in the public datasets' own schemas, filled with generated records.

The builders' tests and the throughput benchmark run on these; a user can also try the
whole chain (build, check, export) without the real datasets. Every column and field of
the official releases is written, used by the builders or not, so a reader that trips on
an unexpected column would show here. The text is word salad from small vocabularies.
"""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from training.sources import ecinstruct, esci, m2

_BRANDS = ["Acme", "Nordlicht", "Sakura", "Veloz", "Bellamare", "Orion", "Kestrel", "Tundra", "Mirabel", "Zephyr",
           "Halcyon", "Brightwood", "Quokka", "Lumen", "Ferro", "Aster"]
_ADJECTIVES = ["waterproof", "wireless", "stainless", "organic", "portable", "vintage", "compact", "heavy duty",
               "foldable", "rechargeable", "cotton", "leather", "ceramic", "bamboo", "magnetic", "adjustable"]
_NOUNS = ["backpack", "headphones", "water bottle", "desk lamp", "phone case", "yoga mat", "coffee grinder",
          "hiking boots", "charging cable", "cutting board", "sunglasses", "dog leash", "tent", "keyboard",
          "frying pan", "rain jacket", "office chair", "bike light", "teapot", "watch strap"]
_ESCI_LABELS = ["E"] * 12 + ["S"] * 4 + ["C"] + ["I"] * 3  # about the release's label shares
_SENTENCES = ["It is very comfortable and the fit is true to size.", "The quality is great for the price.",
              "Battery life is short and charging takes ages.", "The color is lovely and it looks stylish.",
              "Shipping was fast and the packaging was neat.", "The material feels cheap and it broke quickly.",
              "Customer service sent a replacement right away.", "The instructions were confusing.",
              "It is lightweight and easy to use.", "The smell is strong at first.", "Works as expected.",
              "I bought this as a gift.", "Not what I hoped for.", "My second one of these."]
# What a review rated 4-5 or 1-2 stars says of the customer's opinion, one sentence of its
# sentiment each (none names an aspect of the reviews lexicon, so aspects stay as they were).
_POSITIVE = ["I love it.", "Highly recommend it to everyone.", "Exactly what I wanted.", "Five stars from me.",
             "An absolutely fantastic purchase.", "Would buy it again in a heartbeat.", "My whole family adores it.",
             "Best thing I bought this year.", "It exceeded my expectations.", "Very happy with this one.",
             "A wonderful little find.", "I am thrilled with it.", "Totally satisfied with my choice.",
             "It made my day.", "Better than I imagined."]
_NEGATIVE = ["I regret buying it.", "Do not recommend it.", "Very disappointed.", "A total waste.",
             "It stopped working on day two.", "Returned it the next day.", "Worst purchase I have made.",
             "Nothing about it is right.", "I would give zero stars if I could.", "It let me down badly.",
             "Save yourself the trouble.", "Not as advertised at all.", "Completely useless to me.",
             "I am very unhappy with it.", "Avoid this one."]
_LOCALE_WORDS = {"DE": "für Damen", "JP": "レディース 用 セット", "UK": "for women", "ES": "para mujer", "FR": "pour femme",
                 "IT": "da donna"}


def _title(rng: random.Random) -> tuple[str, str]:
    brand = rng.choice(_BRANDS)
    return brand, f"{brand} {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.randint(1, 99)} {rng.choice(['cm', 'pack', 'l', 'in'])}"


def write_esci(folder, examples: int, seed: int = 0) -> Path:
    """About `examples` judged query-product pairs, 2-16 per query."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    product_rows: dict[str, list] = {name: [] for name in (
        "product_id", "product_title", "product_description", "product_bullet_point", "product_brand",
        "product_color", "product_locale")}
    example_rows: dict[str, list] = {name: [] for name in (
        "example_id", "query", "query_id", "product_id", "product_locale", "esci_label", "small_version",
        "large_version", "split")}
    query_id = 0
    while len(example_rows["example_id"]) < examples:
        locale = rng.choice(["us", "es", "jp"])
        query = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        for _ in range(rng.randint(2, 16)):
            product_id = f"B{len(product_rows['product_id']):09d}"
            brand, title = _title(rng)
            for name, value in (("product_id", product_id), ("product_title", title),
                                ("product_description", f"{title}. {rng.choice(_SENTENCES)}"),
                                ("product_bullet_point", "\n".join(rng.sample(_SENTENCES, 3))),
                                ("product_brand", brand if rng.random() > 0.05 else None),
                                ("product_color", rng.choice(["black", "red", None])), ("product_locale", locale)):
                product_rows[name].append(value)
            for name, value in (("example_id", len(example_rows["example_id"])), ("query", query),
                                ("query_id", query_id), ("product_id", product_id), ("product_locale", locale),
                                ("esci_label", rng.choice(_ESCI_LABELS)), ("small_version", 0),
                                ("large_version", 1), ("split", rng.choice(["train", "test"]))):
                example_rows[name].append(value)
        query_id += 1
    pq.write_table(pa.table(product_rows), folder / esci.PRODUCTS_FILE)
    pq.write_table(pa.table(example_rows), folder / esci.EXAMPLES_FILE)
    return folder


def write_reviews(folder, count: int, seed: int = 0, category: str = "All_Beauty") -> Path:
    """`count` reviews of about count/8 products, and the products' metadata."""
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    products = max(1, count // 8)
    with open(folder / f"meta_{category}.jsonl", "w", encoding="utf-8") as meta:
        for number in range(products):
            _, title = _title(rng)
            noun = title.split()[-3]
            meta.write(json.dumps({
                "main_category": category.replace("_", " "), "title": title, "average_rating": 4.1,
                "rating_number": 8, "features": [rng.choice(_SENTENCES)], "description": [], "price": None,
                "images": [], "videos": [], "store": title.split()[0],
                "categories": [category.replace("_", " "), noun.title()] if rng.random() > 0.2 else [],
                "details": {"Color": "Black"}, "parent_asin": f"P{number:09d}", "bought_together": None,
            }) + "\n")
    feeling = random.Random(f"{seed}:sentiment")  # apart, so the other fields are drawn as before
    with open(folder / f"{category}.jsonl", "w", encoding="utf-8") as handle:
        for number in range(count):
            parent = f"P{rng.randrange(products):09d}"
            text = " ".join(rng.sample(_SENTENCES, rng.randint(1, 5)))
            rating = rng.choice([1, 2, 3, 4, 5, 5, 5, 4])
            if rating != 3:
                text += " " + feeling.choice(_POSITIVE if rating > 3 else _NEGATIVE)
            handle.write(json.dumps({
                "rating": float(rating), "title": rng.choice(["Great", "Meh", "Love it", ""]),
                "text": text.replace(". ", ".<br />", 1), "images": [], "asin": parent.replace("P", "A"),
                "parent_asin": parent, "user_id": f"U{number // 4}", "timestamp": 1588687728923 + number,
                "helpful_vote": rng.choice([0, 0, 1, 2, 3, 5, 8, 13, 21]), "verified_purchase": True,
            }) + "\n")
    return folder


# The attribute columns of Amazon-M2 that the products of a kind fill (color: all kinds but
# these), so that some kinds of product have an attribute and others never do.
_M2_ATTRIBUTES = {
    "material": {"backpack", "water bottle", "cutting board", "frying pan", "teapot", "yoga mat", "tent", "watch strap"},
    "size": {"hiking boots", "rain jacket", "backpack", "yoga mat", "tent", "office chair"},
    "model": {"headphones", "keyboard", "coffee grinder", "desk lamp", "phone case", "charging cable", "bike light"},
}
_UNCOLOURED = {"teapot", "cutting board", "charging cable"}


def _m2_attributes(title: str) -> list[str]:
    """color, size, model, material, author of a product, from the kind its title names."""
    noun = next(noun for noun in sorted(_NOUNS, key=len, reverse=True) if f" {noun} " in title)
    return ["" if noun in _UNCOLOURED else "black", "42" if noun in _M2_ATTRIBUTES["size"] else "",
            "X-100" if noun in _M2_ATTRIBUTES["model"] else "", "steel" if noun in _M2_ATTRIBUTES["material"] else "", ""]


def write_m2(folder, sessions: int, seed: int = 0) -> Path:
    """`sessions` sessions over about sessions/2 products, many sold in several locales."""
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"B0{number:08d}" for number in range(max(8, sessions // 2))]
    locales_of = {i: rng.sample(sorted(m2.LANGUAGES), rng.randint(1, 3)) for i in ids}
    with open(folder / m2.PRODUCTS_FILE, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "locale", "title", "price", "brand", "color", "size", "model", "material", "author", "desc"])
        for product_id in ids:
            brand, title = _title(rng)
            for locale in locales_of[product_id]:
                writer.writerow([product_id, locale, f"{title} {_LOCALE_WORDS[locale]}", "9.99", brand,
                                 *_m2_attributes(title), f"{rng.choice(_SENTENCES)} ({_LOCALE_WORDS[locale]})"])
    by_locale: dict[str, list[str]] = {}
    for product_id, locales in locales_of.items():
        for locale in locales:
            by_locale.setdefault(locale, []).append(product_id)
    with open(folder / m2.SESSIONS_FILE, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prev_items", "next_item", "locale"])
        for _ in range(sessions):
            locale = rng.choice(sorted(by_locale))
            chosen = [rng.choice(by_locale[locale]) for _ in range(rng.randint(2, 8))]
            writer.writerow(["[" + " ".join(f"'{i}'" for i in chosen[:-1]) + "]", chosen[-1], locale])
    return folder


def write_mmlu(path, count: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        for number in range(count):
            a, b = rng.randint(2, 99), rng.randint(2, 99)
            options = [str(a * b + delta) for delta in rng.sample([0, 1, -1, 10], 4)]
            writer.writerow([f"What is {a} times {b}? (question {number})", *options, "ABCD"[options.index(str(a * b))]])
    return path


def write_alpaca(path, count: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = []
    for _ in range(count):
        noun = rng.choice(_NOUNS)
        kind = rng.randrange(3)
        if kind == 0:
            records.append({"instruction": f"Describe a {noun} in one sentence.", "input": "",
                            "output": f"A {noun} is something people use every day."})
        elif kind == 1:
            records.append({"instruction": "Rewrite the sentence in the passive voice.",
                            "input": f"The customer bought the {noun}.", "output": f"The {noun} was bought by the customer."})
        else:
            records.append({"instruction": f"Give three tips for choosing a {noun}.", "input": "",
                            "output": "1. Set a budget.\n2. Read the reviews.\n3. Check the return policy."})
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


_SENTIMENTS = ["very positive", "positive", "neutral", "negative", "very negative"]
_RELEVANCE = {"E": "The product matches the query and all its specifications.",
              "S": "The product misses part of the query but can stand in for what it asks.",
              "C": "The product does not match the query but goes with a product that does.",
              "I": "The product has nothing to do with the query."}
_RELATIONS = ["Customers who buy product 1 also buy product 2.", "Customers who view product 1 also view product 2.",
              "Product 1 is similar to product 2."]


def _lettered(texts) -> list[str]:
    return [f"{chr(ord('A') + position)}: {text}" for position, text in enumerate(texts)]


def _ecinstruct_record(task: str, rng: random.Random) -> dict:
    """One record of `task` in the release's field formats: input and options as JSON text,
    except the recommendation task's, written with Python's str() as the release does."""
    query = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    brand, title = _title(rng)
    options = None
    if task == ecinstruct.AVE:
        color, material = rng.choice(["black", "red", "navy blue"]), rng.choice(["cotton", "stainless steel", "bamboo"])
        data = {"product title": f"{title} {color.title()}",
                "product description": f"Made of {material}. {rng.choice(_SENTENCES)}",
                "product feature": rng.choice(_SENTENCES), "product brand": brand,
                "target attributes": "color and material and pattern"}
        output = json.dumps([{"attribute": "color", "value": color, "source": "product title"},
                             {"attribute": "material", "value": material, "source": "product description"},
                             {"attribute": "pattern", "value": "None", "source": "None"}])
    elif task == ecinstruct.MPC:
        label = rng.choice(_ESCI_LABELS)
        data, options = {"query": query, "product title": title}, json.dumps(_lettered(_RELEVANCE.values()))
        output = _lettered(_RELEVANCE.values())[list(_RELEVANCE).index(label)]
    elif task == ecinstruct.PRP:
        data, options = {"Product 1:": title, "Product 2:": _title(rng)[1]}, json.dumps(_lettered(_RELATIONS))
        output = rng.choice("ABC")
    elif task == ecinstruct.QPR:
        labels = rng.sample("ESCI", rng.randint(2, 4))
        data = {"query": query, "product list": _lettered(_title(rng)[1] for _ in labels)}
        output = ",".join(chr(ord("A") + labels.index(label)) for label in "ESCI" if label in labels)
    elif task == ecinstruct.SR:
        bought = [f"{_title(rng)[1]}. Home & Kitchen. {brand}." for _ in range(rng.randint(2, 8))]
        candidates = [f"{_title(rng)[1]}. Sports & Outdoors." for _ in range(20)]
        answer = rng.randrange(20)
        data = str([f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n, 'th')}: {item}" for n, item in enumerate(bought, 1)])
        options, output = str(_lettered(candidates)), chr(ord("A") + answer)
    elif task in (ecinstruct.AP, ecinstruct.AG):
        data = {"question": f"Does the {rng.choice(_NOUNS)} come with a case?", "document": rng.sample(_SENTENCES, 3)}
        output = rng.choice(["yes", "no"]) if task == ecinstruct.AP else "Yes, it comes with a case."
    elif task == ecinstruct.PM:
        same = rng.random() < 0.5
        other = title.lower() if same else _title(rng)[1]
        data = {"product 1": {"title": title, "description": rng.choice([float("nan"), rng.choice(_SENTENCES)]),
                              "manufacturer": brand, "price": "19.99"},
                "product 2": {"title": other, "description": rng.choice(_SENTENCES), "manufacturer": "nan",
                              "price": "18.5"}}
        output = "yes" if same else "no"
    elif task == ecinstruct.PSI:
        data, output = {"query": query, "product": title}, rng.choice(["yes", "no", "no"])
    else:  # Sentiment_Analysis
        data, options = " ".join(rng.sample(_SENTENCES, rng.randint(2, 4))), json.dumps(_lettered(_SENTIMENTS))
        output = _lettered(_SENTIMENTS)[rng.randrange(len(_SENTIMENTS))]
    return {"task": task, "instruction": f"Answer the {task.replace('_', ' ').lower()} question.",
            "input": data if isinstance(data, str) else json.dumps(data, ensure_ascii=False),
            "options": options, "output": output}


def write_ecinstruct(folder, records: int, seed: int = 0) -> Path:
    """About `records` records of the release's ten tasks in turn, in Hugging Face's layout:
    train.json, validation.json and test.json, JSON arrays of records with task, setting,
    split, instruction, input, options, output. One test record in ten is written again under
    a second setting (a name of ours), which the builder passes over."""
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tasks = [ecinstruct.AVE, ecinstruct.MPC, ecinstruct.PRP, ecinstruct.QPR, ecinstruct.SR, ecinstruct.AP,
             ecinstruct.PM, ecinstruct.PSI, ecinstruct.SA, ecinstruct.AG]
    splits: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    for number in range(records):
        split = rng.choice(["train"] * 8 + ["val", "test"])
        record = {"setting": ecinstruct.SETTING, "split": split, **_ecinstruct_record(tasks[number % len(tasks)], rng)}
        splits[split].append(record)
        if split == "test" and number % 10 == 0:
            splits[split].append({**record, "setting": "OOD_Unseen_Instruction"})
    for split, name in (("train", "train.json"), ("val", "validation.json"), ("test", "test.json")):
        (folder / name).write_text(json.dumps(splits[split], ensure_ascii=False, indent=1), encoding="utf-8")
    return folder


WRITERS = {"esci": write_esci, "reviews": write_reviews, "m2": write_m2, "ecinstruct": write_ecinstruct}


def write_source(name: str, where, records: int, seed: int = 0) -> Path:
    """The --input of `python -m training build NAME` with about `records` records."""
    where = Path(where)
    if name == "mmlu":
        return write_mmlu(where / "synthetic_test.csv", records, seed)
    if name == "alpaca":
        return write_alpaca(where / "alpaca_data_cleaned.json", records, seed)
    return WRITERS[name](where / name, records, seed)

