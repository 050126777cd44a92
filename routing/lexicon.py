"""Every word routing listens for, as plain data, in the languages ShopBench prompts use
(English, German, French, Spanish, Italian, Dutch, Portuguese, Japanese, Chinese): the
classifier's and the anatomy's patterns are built from these lists and hold no words of
their own (tests/test_lexicon.py checks that, and that no list holds an entry twice, one
matched in full by another entry, or one never reached behind an earlier entry).

Each entry is a regular-expression alternative matched against lowercased instruction
text; Latin-script entries match whole words (a stem carries its own `\\w*`), CJK ones
anywhere. Nothing here decides anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from shopbench.text import is_cjk

# Labels that introduce the instruction rather than data ("Instructions: ...").
INSTRUCTION_LABELS = (
    "instruction", "instructions", "task", "your task", "question", "note", "notes", "requirement",
    "requirements", "rule", "rules", "format", "output format", "answer format", "response format", "hint",
    "directions", "guidelines", "system", "prompt", "goal", "objective", "important", "constraints",
    "request", "q", "hinweis", "aufgabe", "frage", "domanda", "pregunta", "vraag", "opdracht", "taak", "tarefa",
    "pergunta", "質問", "问题", "anweisung", "anweisungen", "consigne", "consignes", "tâche", "instrucción",
    "instrucciones", "tarea", "istruzioni", "compito", "指示", "タスク", "任务", "指令", "说明",
)

# Verbs that ask for text to be written: their presence alone never makes an extraction task.
WRITE_VERBS = (
    r"writ(?:e|es|ing)", r"generat(?:e|es|ing)", r"compos(?:e|ing)", r"translat(?:e|es|ing)", r"summari[sz](?:e|ing)", r"describ(?:e|ing)", r"explain(?:ing)?", r"rewrite",
    r"rephrase", r"paraphrase", r"draft", r"create", r"suggest", r"propose", r"elaborate", r"reformulate",
    r"produce", r"come up with", r"compar(?:e|ing)",
    r"in plain (?:language|english|words)", r"in your own words",
    r"(?:provide|give|create|suggest)(?: \w+){0,3} (?:version|translation|summary|description|headline|paraphrase|explanation)", r"answer the (?:\w+(?:'s)? )?(?:question|query|inquiry)", r"reply to",
    r"respond to", r"tell me (?:what|why|how|about)", r"shorten", r"expand",
    r"schreib\w*", r"generier\w*", r"übersetz\w*", r"fasse\w*", r"beschreib\w*", r"erkläre", r"formulier\w*", r"verfass\w*",
    r"écri[sv]\w*", r"génère", r"générez", r"tradui\w*", r"résume", r"résumez", r"décri[sv]\w*", r"explique\w*",
    r"rédige\w*", r"reformule\w*", r"escrib\w*", r"genera", r"traduc\w*", r"resum\w*", r"describ(?:a|e|ir|an)", r"explica\w*", r"redact\w*",
    r"scrivi\w*", r"riassum\w*", r"descriv\w*", r"spiega\w*",
    "翻訳", "訳し", "書い", "書き", "生成", "作成", "要約", "説明", "翻译", "写", "总结", "概括", "描述", "解释",
)

# An answer asked for as prose: never an extraction, whatever it is about.
PROSE_ANSWERS = (
    r"(?:in )?(?:one|two|three|a few|\d)(?: or (?:two|three|four|\d))? (?:short |full |complete )?sentences?",
    r"(?:a|one|short) paragraph", r"not a list", r"in prose", r"full sentences?",
)

# An answer asked for as a phrase: whatever it names, the answer is a span of free text.
PHRASE_ANSWERS = (r"as an? (?:short |brief |single )?(?:key ?)?phrase", r"in a few words",)

# Verbs that ask for something to be pulled out of, or named from, the given text.
EXTRACT_VERBS = (
    r"extract\w*", r"pull(?:ing)? out", r"copy", r"quote", r"identif\w*", r"recogni[sz]\w*", r"detect\w*", r"tag", r"find",
    r"locate", r"list", r"output", r"return", r"give", r"name", r"spot", r"highlight", r"mark", r"pick out",
    r"point out", r"determine", r"specify", r"state", r"tell", r"provide", r"get", r"report", r"what",
    r"(?:answer|reply|respond) with",
    r"which", r"who",
    r"liste[nrz]?", r"listar?", r"enumera\w*", r"elenca\w*", r"auflisten", r"wer", r"wie", r"welk[e]?", r"wat",
    r"geef", r"noem", r"indiquez", r"rufe", r"zeige?",
    r"extrahier\w*", r"ermittel\w*", r"bestimm\w*", r"nenn\w*", r"finde", r"gib", r"welche[rsnm]?", r"was ist",
    r"extrai\w*", r"relève", r"relevez", r"trouve", r"indique", r"donne[zr]?", r"quel(?:le)?s?",
    r"extra(?:e|ig|er)", r"indica", r"encuentra", r"cu[aá]l(?:es)?", r"qu[eé]",
    r"estra(?:i|rre|gga)", r"individua", r"trova", r"qual(?:e|i)?",
    "抽出", "抜き出", "取り出", "特定", "挙げ", "教えて", "何", "どの", "提取", "抽取", "找出", "识别", "列出", "指出",
    "什么", "哪",
)

# Question words: they ask for a value only when it follows closely ("which brand").
QUESTION_WORDS = (
    r"what", r"which", r"who", r"welche[rsnm]?", r"was ist", r"wer", r"welk[e]?", r"wat",
    r"quel(?:le)?s?", r"cu[aá]l(?:es)?", r"qu[eé]",
    r"qual(?:e|i)?", "何", "どの", "什么", "哪",
)

# Asking for a value to be changed into another form: never a copy, whatever it names.
TRANSFORM_WORDS = (
    r"normali[sz]\w*", r"standardi[sz]\w*", r"canonical\w*", r"convert\w*", r"unif(?:y|ied)", r"clean(?:ed)? up",
)

# A title asked for or any text translated or localised: the answer is a title or a
# translation, which needs room and is never cut to sentences. A title noun counts when a verb
# of TITLE_ASK_WORDS (or WRITE_VERBS) comes shortly before it in the same sentence, or when it
# names the answer slot; "given the product title below, explain ..." asks for no title.
TITLE_NOUNS = (
    r"titles?", r"headlines?", r"product names?", r"listing names?", r"überschrift", r"titres?",
    r"t[ií]tulos?", r"titol[oi]", r"titels?", "タイトル", "商品名", "标题",
)
TITLE_ASK_WORDS = (
    r"make", r"give", r"output", r"return", r"need", r"want", r"what", r"suggest", r"adapt\w*",
    r"write", r"erstell\w*", r"schreib\w*", r"gib", r"génér\w*", r"écri\w*", r"donne\w*", r"propos\w*", r"crea\w*",
    r"genera\w*", r"escrib\w*", r"scriv\w*", r"riscriv\w*", r"dammi", r"dame", r"maak", r"schrijf", r"geef",
    "作成", "生成", "付けて", "つけて", "考えて", "写", "起",
)
TRANSLATE_WORDS = (
    r"translat\w*", r"übersetz\w*", r"tradu\w*", r"vertaal\w*", r"vertaling\w*", r"locali[sz](?:e|es|ing|ation)",
    r"lokalisier\w*", r"lokaliseer\w*", r"localizz\w*", r"localiza\w*", r"into (?:english|german|french|spanish|italian|japanese|chinese|dutch|portuguese)",
    "翻訳", "訳して", "翻译", "译成", "ローカライズ", "本地化",
)

# Verbs that mean "copy it out", as opposed to "name it" (which may need inference).
COPY_VERBS = (
    r"extract\w*", r"pull(?:ing)? out", r"cop(?:y|ies|ied|ying)", r"quote", r"recogni[sz]\w*", r"tag", r"highlight",
    r"pick out", r"spot", r"locate", r"detect\w*", r"exact (?:words?|wording|text|spans?|phrases?|terms?)",
    r"exactly as", r"verbatim", r"word for word", r"as (?:it )?(?:is )?written",
    r"use the (?:exact )?(?:span|words?|wording|phrase|text|terms?)", r"using (?:the|their|its) (?:own |exact )?words",
    r"(?:answer|reply|respond) (?:using|with) the (?:exact )?words", r"kopier\w*", r"copie[zr]?",
    r"copia\w*", r"recopie\w*", r"letterlijk", r"wörtlich", r"textuellement", r"tal (?:como|cual)",
    r"tel(?:le)?s? qu.?(?:écrit|elles? apparai|il apparai)\w*", r"unverändert\w*", r"tel quel", r"sin cambios", r"invariat\w*",
    r"palabras exactas", r"mots exacts", r"parole esatte", r"genauen? wort\w*", "コピー", "复制", "原文",
    r"extrahier\w*", r"extrai\w*", r"relève", r"relevez", r"extra(?:e|ig|er)", r"estra(?:i|rre|gga)", r"individua",
    "抽出", "抜き出", "取り出", "提取", "抽取", "找出", "识别",
)

# Values a text states and an answer copies: asked for by name, they make extraction.
VALUE_SLOTS = (
    r"brand names?", r"brands?", r"manufacturers?", r"makers?", r"colou?rs?", r"sizes?", r"materials?",
    r"fabrics?", r"model(?: number| name)?s?", r"capacit(?:y|ies)", r"dimensions?", r"volumes?", r"weights?",
    r"lengths?", r"widths?", r"heights?", r"counts?", r"ages?", r"gtin", r"upc", r"ean", r"isbn", r"power(?: ratings?)?",
    r"country of origin", r"origin", r"warrant(?:y|ies)", r"sleeve length", r"recipients?", r"(?:compatible )?devices?",
    r"made of", r"made from", r"fib(?:re|er)s?", r"composition", r"flavou?rs?", r"scents?",
    r"patterns?", r"quantit(?:y|ies)", r"pack sizes?", r"voltages?", r"wattages?", r"storage", r"sku",
    r"part numbers?", r"values?", r"attribute values?", r"attributes?", r"entit(?:y|ies)", r"named entit(?:y|ies)",
    r"marken?", r"markenname", r"hersteller\w*", r"farben?", r"größen?", r"gr[oö]ße", r"materiale?", r"stoff",
    r"modell", r"kapazität", r"werte?", r"attribute?", r"entität(?:en)?",
    r"marques?", r"couleurs?", r"tailles?", r"matériaux?", r"matière", r"modèle", r"valeurs?", r"attributs?",
    r"entités?", r"fabricant",
    r"marcas?", r"colore?s?", r"tallas?", r"tamaños?", r"materiales?", r"modelo", r"valore?s?", r"atributos?",
    r"entidad(?:es)?", r"fabricante",
    r"marchi[oi]", r"colori?", r"taglie?", r"materiali?", r"modello", r"attributi?", r"entità", r"produttore",
    r"capacità", r"capacidad", r"capacité", r"fassungsvermögen", r"leistung", r"merk", r"kleur", r"maat", r"materiaal",
    r"kenmerk\w*", r"waarde", r"wielmaat",
    "ブランド", "メーカー", "色", "カラー", "サイズ", "素材", "材質", "型番", "容量", "属性", "エンティティ", "固有表現",
    "品牌", "颜色", "尺寸", "尺码", "材质", "材料", "型号", "实体",
)

# Kinds an answer may have to infer rather than copy: extraction only when copying is asked.
KIND_SLOTS = (
    r"product types?", r"product names?", r"product lines?", r"item types?", r"types? of product",
    r"categor(?:y|ies)", r"product categor(?:y|ies)", r"styles?", r"genders?", r"keywords?", r"product terms?",
    r"produkttyp(?:en)?", r"produktart(?:en)?", r"producttype\w*", r"productsoort", r"kategorien?", r"types? de produits?", r"catégories?",
    r"tipos? de productos?", r"categorías?", r"tip[oi] di prodott[oi]", r"categori[ae]",
    "商品タイプ", "商品の種類", "製品タイプ", "カテゴリ", "产品类型", "商品类型", "类别", "类目",
)

# What a review talks about: naming these is aspect-term extraction (NER) when the text is a review.
ASPECT_SLOTS = (
    r"aspects?", r"features?", r"components?", r"parts? of (?:the|this|that) (?:product|item|device)",
    r"product features?", r"(?:likes?|liked|dislikes?|disliked|loves?|loved|hates?|hated|praised?|praises|critici[sz]e[sd]?|complain(?:s|ed)? about)",
    r"listed as an? (?:negative|positive|con|pro)", r"aspekte?", r"produktaspekte?", r"aspetti", r"aspectos?",
    r"productaspect(?:en)?", r"aspecten", r"merkmale?", r"caractéristiques?", r"características?", r"caratteristiche",
    "側面", "特徴", "方面", "功能",
)

# Free-text pieces of a review or description: copying one out is scored as generation.
PHRASE_SLOTS = (
    r"key ?phrases?", r"phrases?", r"snippets?", r"sentences?", r"words?", r"terms?", r"expressions?",
    r"excerpts?", r"passages?", r"segments?", r"parts?", r"portions?", r"spans?", r"mentions?",
    r"schlüssel\w*", r"phrasen?", r"satz", r"ausdr[uü]ck\w*", r"frases?", r"expresi[oó]n", r"fragmento",
    r"espressione", r"mots?", r"termes?",
    "キーフレーズ", "フレーズ", "語句", "表現", "关键", "短语", "词语", "句子",
)

# Free text whose copied phrases are scored as generation (ROUGE-L): a review's opinion on an aspect.
OPINION_SOURCES = (
    r"reviews?", r"reviewers?", r"aspects?", r"comments?", r"feedback", r"avis", r"recensie\w*", r"beoordeling\w*",
    r"avalia\w*", r"reseñas?", r"opini[oó]n\w*", r"recension\w*", "レビュー", "口コミ", "评论", "评价",
)
# Opinion sources inside compound words ("Kundenrezension", "Produktbewertungen"), matched anywhere.
OPINION_STEMS = ("rezension", "bewertung")

# Where copied text comes from: "in the query", "from the title".
SOURCE_PHRASES = (
    r"(?:in|from|within|of) (?:the |this |that |its |their |each |these |given |following |above |below )*"
    r"(?:search |user(?:'s)? |customer(?:'s)? |shopping |product |original |provided |input )*"
    r"(?:query|queries|title|titles|text|description|sentence|review|input|listing|name|passage|string|"
    r"request|search|keywords?|utterance|data)",
    r"mentioned", r"stated (?:here|above|below)", r"given (?:here|above|below)", r"verbatim", r"as it appears",
    r"exactly as",
    r"(?:(?:aus|in) (?:der|dem|diesem|dieser|den)|im|vom) (?:suchanfrage|anfrage|titel|text|beschreibung|produkttitel)",
    r"(?:de|dans) (?:la|le|cette|ce) (?:requête|titre|texte|description)",
    r"(?:de|en|del) (?:la |el |esta |este )?(?:consulta|búsqueda|título|texto|descripción)",
    r"(?:dalla|nella|dal|nel) (?:query|ricerca|titolo|testo|descrizione)",
    r"(?:uit|in|van) (?:de|het|deze) (?:titel|producttitel|zoekopdracht|tekst|beschrijving|review)",
    "クエリ", "タイトル", "商品名", "テキスト", "検索", "查询", "标题", "文本", "搜索",
)

# What sums a product up: a list of these drawn from a title or a description is written
# (that team labels it generation, scored by ROUGE-L), unless it comes from a review or a query.
SUMMARY_SLOTS = (
    r"keywords?", r"key words?", r"tags?", r"search terms?", r"characteristics?", r"selling points?",
    r"highlights?", r"(?:main|key|primary|important|notable|core|major|essential|basic|salient|distinctive|defining) "
    r"(?:features?|points?|propert(?:y|ies)|qualit(?:y|ies))",
    r"schlüsselwörter", r"stichwörter", r"hauptmerkmale?", r"mots[- ]cl[ée]s", r"caractéristiques (?:principales|clés)",
    r"palabras clave", r"características (?:principales|clave)", r"parole chiave", r"caratteristiche principali",
    r"trefwoorden", r"kenmerken", "キーワード", "特長", "关键词", "关键字", "主要特点", "主要特征",
)

# A query as the source of what is copied: keywords of a query are its spans (NER).
QUERY_SOURCES = (
    r"quer(?:y|ies)", r"search(?:es)?", r"suchanfrage\w*", r"requêtes?", r"consultas?", r"búsquedas?", r"ricerca",
    r"zoekopdracht\w*", "クエリ", "検索", "查询", "搜索",
)

# An order to answer someone's question: the question it holds is data, and the answer is
# written (generation) unless copying is asked.
ANSWER_ORDERS = (
    r"answer (?:the|this|that|these|their|his|her|my|our|each)(?: [\w-]+(?:'s)?){0,2} (?:questions?|quer(?:y|ies)|"
    r"inquir(?:y|ies)|enquir(?:y|ies))",
    r"answer (?:it|them|him|her)",
    r"(?:respond|reply|write back) to (?:the|this|that|their|a|an)(?: [\w-]+(?:'s)?){0,2} (?:questions?|customers?|"
    r"buyers?|shoppers?|users?|clients?|inquir(?:y|ies)|quer(?:y|ies))",
    r"(?:write|give|provide|draft|compose) (?:a|an)(?: [\w-]+){0,2} (?:answer|reply|response)",
    r"help (?:the|this|a) (?:customer|buyer|shopper|user|client)",
    r"beantworte\w*", r"répond\w* à (?:la|sa|cette) question", r"respond\w* (?:a )?(?:la|su|esta) pregunta",
    r"rispond\w* alla domanda", "質問に答え", "質問に回答", "回答客户", "回答用户", "回答顾客", "回答买家",
)

# An answer held to a value ("answer with the brand", "the model number only"): a question
# answered so is an extraction, whoever asked it.
VALUE_ANSWERS = (
    r"(?:answer|reply|respond) with (?:the|its|their|just|only)", r"(?:the|its) [\w-]+(?: [\w-]+)? only",
    r"only (?:the|its) [\w-]+", r"just the [\w-]+",
)

# Words that name the open-ended named-entity task itself.
ENTITY_TASK = (
    r"named[- ]entit\w*", r"ner", r"entity[ _-]types?", r"entit(?:y|ies) of (?:the )?type",
    r"entity", r"entities",
    r"(?:attribute|value|entity|aspect|slot)(?: value| term)? (?:extraction|recognition|tagging|filling|identification)", r"entitäten", r"entités", r"entidades", "エンティティ", "固有表現", "实体",
)

# "Which words in the query refer to ...": a question whose answer is a span of the text.
WHICH_WORDS = (
    r"(?:which|what) (?:words?|terms?|tokens?|parts?|phrases?|spans?|text)", r"welche (?:wörter|begriffe|teile)",
    r"quels mots", r"quels termes", r"qu[eé] palabras", r"cu[aá]les palabras", r"quali parole", r"quali termini",
    "どの単語", "どの語", "どの部分", "哪些词", "哪个词", "哪些字",
)

# Ordering a candidate list.
RANK_WORDS = (
    r"rank(?:s|ing)?(?!\s*(?:#|no\.|\d)|\s+(?:it|this|them)\s+(?:among|above|below|as|higher|lower))",
    r"ranked(?!\s*(?:#|no\.|\d|among|as|in the top))", r"re-?rank\w*", r"permutation", r"re-?order", r"prioriti[sz]\w*",
    r"order (?:\w+ )?(?:them|the|these|all|those|each|candidates?|items?|products?|results?|reviews?|options?|listings?|queries)",
    r"in (?:the|an?) order", r"(?:most|best|highest|closest|strongest)(?: \w+){0,2} first",
    r"sort(?:s|ed|ing)?(?! of)", r"(?:re-?)?arrang\w*", r"comes? first", r"first,? second", r"in (?:that|this|the right|the correct) order",
    r"en qu[eé] orden", r"de mejor a peor", r"de (?:m[aá]s|mayor) a (?:menos|menor)", r"du meilleur au (?:pire|moins bon)",
    r"du plus au moins", r"dal migliore al peggiore", r"in che ordine",
    r"sorteer\w*", r"rangschik\w*", r"volgorde", r"van (?:de )?(?:meest|best)\w* \w* ?naar", r"ordene\w*", r"classifique\w*",
    r"ordina\w*", r"quale ordine", r"quel ordre", r"qu[eé] orden", r"welche reihenfolge", r"absteigend\w*",
    r"aufsteigend\w*", r"dal(?:la|lo|l')? più .{1,20}? al(?:la|lo|l')? meno", r"del más .{1,20}? al menos",
    r"vom \w+ zum \w+", r"du plus .{1,20}? au moins",
    r"do mais (?:ao|para o) menos", r"in (?:descending|ascending|decreasing) order", r"most (?:\w+ )?to (?:the )?least",
    r"best (?:\w+ )?to (?:the )?worst(?: \w+)?", r"highest to lowest", r"from (?:the )?most", r"ordering",
    r"in order(?! to)",
    r"rangier\w*", r"ordne\w*", r"sortier\w*", r"reihenfolge", r"classe[rz]", r"ordonne", r"trie[rz]", r"ordena",
    r"clasifica", r"classifica",
    "並べ", "順位", "順番", "ランク", "排序", "排列", "排名",
)

# Picking: words that ask for some candidates of a list, whether a count follows them or not.
PICK_WORDS = (
    r"pick", r"which", r"welche\w*", r"cu[aá]les", r"quali", r"wähle\w*", r"auswählen", r"choisi\w*",
    r"sélectionne\w*", r"eli[gj]\w*", r"kies", r"welke", r"rufe", r"geef", r"toon",
)

# Picking some candidates of a list.
SELECT_WORDS = PICK_WORDS + (
    r"select\w*", r"choos\w*", r"recommend\w*", r"retriev\w*", r"quel(?:le)?s",
    r"identify (?:the )?(?:\w+ )?(?:products?|items?|queries|candidates?)",
    r"find (?:the )?(?:\w+ )?(?:products?|items?|queries|candidates?)", r"eleg\w*", r"selecciona", r"scegli",
    r"seleziona", r"show me", r"escolh\w*", r"selecione", "選んで", "選び", "選択", "选择", "选出", "挑选",
)

# Verbs and question words that a count of items to pick follows: "select 3", "which three".
COUNT_VERBS = PICK_WORDS + (
    r"select", r"choose", r"identify", r"retrieve", r"find", r"recommend", r"output", r"return", r"give", r"list",
    r"name", r"what", r"show(?: me)?", r"suggest", r"get", r"gib", r"zeige?", r"noem", r"dame", r"indica",
    r"elenca", r"donne\w*", r"montre\w*", r"nenne\w*", r"quel\w*", r"selecciona\w*", r"scegli\w*", r"seleziona\w*",
)
# Besides those, a sentence that says "answer" may ask for a count of items: "answer with 3 numbers".
COUNT_ANSWER_WORDS = (r"answer",)

# Nouns of the items a count counts: "three numbers", "5 products".
ITEM_NOUNS = (
    r"numbers?", r"indices", r"indexes", r"ids?", r"items?", r"products?", r"candidates?", r"options?", r"answers?",
    r"snippets?", r"aspects?", r"quer(?:y|ies)", r"reviews?", r"results?", r"categor(?:y|ies)", r"titles?",
    r"keywords?", r"entr(?:y|ies)", r"choices?", r"labels?", r"keys?", r"listings?", r"produkte?", r"artikel",
    r"aspekte?", r"produits?", r"productos?", r"prodotti", r"categorías?", r"catégories?", r"producten", r"resultaten",
    r"kandidaten", r"resultate", r"ergebnisse", r"risultati", r"resultados", r"résultats",
)
# What may stand between a picking verb and its count: "select only the top 3".
COUNT_FILLERS = (r"only", r"exactly", r"the", r"top", r"de", r"der", r"of")
# CJK counters after a number: "3つ", "三个", "5件".
CJK_COUNTERS = ("つ", "個", "个", "件", "項目", "项", "款", "条")
# A scale an answer falls in: "on a scale of 1 to 5", "rate it from 0-9".
SCALE_WORDS = (r"scale", r"rating", r"rate", r"score", r"from", r"between")
RANGE_WORDS = (r"to", r"and")  # "1 to 5", "between 1 and 5" (a dash joins them too)

# Asking for numbers of the list as the answer.
# ("the number" alone is as often a quantity: "answer with the number of grams".)
NUMBER_WORDS = (
    r"numbers", r"keys", r"indices", r"index(?:es)?", r"ids", r"positions", r"(?:item|candidate|product|option|list) numbers?",
    r"number of (?:the|each|every) (?:item|candidate|product|option|query|review)s?", r"nummern", r"zahlen",
    r"numéros", r"números", r"numeri", r"番号", r"编号", r"序号",
)


# Generic labels of the slot an answer goes in. A prompt that ends in one of ANSWER_WORDS after
# options or a scale is multiple choice when its flag is unknown (the others, "Your answer:" and
# "Antwoord:" included, end as many ranking and retrieval prompts as multiple-choice ones).
ANSWER_WORDS = ("answer", "antwort", "respuesta", "réponse", "risposta", "回答", "答案")
ANSWER_SLOTS = ANSWER_WORDS + (
    "your answer", "antwoord", "resposta", "答え", "解答", "output", "response", "result", "results", "ausgabe",
    "sortie", "salida",
)

# A question someone else asked is the data of a question-answering task, not the instruction.
ASKERS = (r"customer\w*", r"user\w*", r"shopper\w*", r"buyer\w*", r"client\w*", r"kunde\w*")

# How a line that gives an order starts (it ends a block of data), and (CJK, where the verb
# comes last) the polite request forms that give an order anywhere in a line.
ORDER_OPENERS = (
    r"please", r"now", r"then", r"based on", r"given", r"using", r"according to", r"you", r"your", r"select",
    r"choose", r"pick", r"rank", r"sort", r"order", r"extract", r"identify", r"list", r"output", r"return",
    r"answer", r"respond", r"reply", r"write", r"generate", r"translate", r"summari[sz]e", r"describe", r"explain",
    r"find", r"which", r"what", r"how", r"do not", r"don't", r"only", r"retrieve", r"give", r"tell", r"name",
    r"put", r"arrange", r"rate", r"fill", r"complete", r"copy", r"tag", r"classify", r"bitte", r"veuillez",
    r"por favor", r"per favore", "以下", "请", "次の", "次に", "下記", "上記", "从",
)
POLITE_REQUESTS = ("ください", "して下さい", "请")

# JSON keys that hold a candidate's number ({"id": 3, ...}) and nouns a number follows ("option (2)").
NUMBER_KEYS = (r"id", r"n", r"no", r"num", r"number", r"idx", r"index", r"key")
NUMBERED_NOUNS = (r"option", r"item", r"product", r"candidate", r"choice", r"listing")

# Words around a slot noun that say it is not asked for: a question word asks for what follows
# it directly ("which brand") or after a copula ("what is the brand"), not for what follows a
# determiner ("what the customer values"); "no brand", "without the colour" leave a value out.
DETERMINERS = (
    r"the", r"a", r"an", r"these", r"those", r"this", r"that", r"my", r"your", r"our", r"la", r"le", r"les", r"el",
    r"los", r"las", r"der", r"die", r"das", r"il", r"lo", r"gli",
)
COPULAS = (r"is", r"are", r"was", r"were", r"did", r"does", r"do", r"est", r"sont", r"ist", r"sind", r"es", r"son",
           r"è", r"sono")
CLITIC_COPULAS = (r"'s",)  # "what's the brand": matched wherever it stands
# "what is the 'SIZE'": the forms of "be" that may stand between a question word and a quoted slot label.
BE_VERBS = (r"is", r"are", r"was", r"were", r"est", r"ist", r"es", r"è")
NEGATIONS = (r"no", r"not", r"without", r"except", r"excluding", r"ohne", r"sans", r"sin", r"senza")

# Nouns of written output: "give a description of the material" asks for writing.
WRITTEN_THINGS = (
    r"descriptions?", r"summar(?:y|ies)", r"explanations?", r"paragraphs?", r"essays?", r"titles?", r"headlines?",
    r"reviews?", r"reasons?", r"sentences?", r"stor(?:y|ies)", r"advertisements?", r"slogans?", r"responses?", r"repl(?:y|ies)",
    r"answers?", r"translations?", r"overviews?",
)

# Arithmetic over values is reasoning, not extraction: "what is the total weight".
ARITHMETIC_WORDS = (r"total", r"sum", r"combined", r"altogether", r"how many", r"how much", r"per unit",
                    r"calculat\w*", r"comput\w*")

# "return the number of the item": verbs that ask for one candidate's number.
ANSWER_VERBS = (r"return", r"output", r"give", r"write", r"provide", r"answer with", r"reply with", r"respond with")

# A field that names what to extract when the prompt has no instruction sentence: "Attribute: colour"
# (matched anywhere in the label).
EXTRACTION_FIELD_STEMS = ("attribute", "entit")

# A writing verb after these describes someone else's writing: "a customer would write".
NOT_AN_ORDER = (
    r"would", r"might", r"could", r"will", r"may", r"to", r"that", r"which", r"who", r"customers?", r"reviewers?",
    r"users?", r"buyers?", r"shoppers?", r"they", r"he", r"she", r"kunde", r"käufer", r"client", r"cliente",
)

# "the terms that describe ...": a span of the text, described by what it says.
RELATIVE_PRONOUNS = (r"that", r"which", r"who")
SPAN_VERBS = (r"describes?", r"refers? to", r"names?", r"indicates?", r"denotes?", r"mentions?", r"specif(?:y|ies)",
              r"expresses?")


def alternatives(*word_lists) -> str:
    """The entries of the lists as one regular-expression alternation, for a pattern that
    places them (at a line's start, before a count)."""
    return "|".join(w for words in word_lists for w in words)


def pattern(*word_lists, at_start: bool = False, flags: int = 0, anywhere=()) -> re.Pattern:
    """One regex for the words of the lists: Latin-script words bounded at both ends (their
    endings written out, `\\w*` for a stem), CJK ones matched anywhere; `at_start`: only at the
    text's start; `anywhere`: lists matched anywhere, like CJK, whatever their script."""
    words = [w for words in word_lists for w in words]
    latin = [w for w in words if not is_cjk(w)]
    loose = [w for w in words if is_cjk(w)] + [w for words in anywhere for w in words]
    factored = None if at_start or flags & re.IGNORECASE else by_first_letter(latin, loose)
    return re.compile(factored or plain(latin, loose, "^" if at_start else ""), flags)


def plain(latin, loose, start: str = "") -> str:
    """The lists as written: the bounded words' alternation, then the loose ones'."""
    # (?=\w) changes nothing (every bounded entry starts with a word character, which
    # tests/test_lexicon.py checks) but lets the regex engine skip most positions at once.
    parts = [rf"{start}(?<!\w)(?=\w)(?:{'|'.join(latin)})(?!\w)"] if latin else []
    parts += [f"{start}(?:{'|'.join(loose)})"] if loose else []
    return "|".join(parts)


def by_first_letter(latin, loose=()) -> str | None:
    """`plain`'s alternation written as one branch per first letter, "c(?<!\\w.)(?:opy|...)(?!\\w)":
    the same matches (entries keep their order within a letter, bounded ones before loose ones,
    and entries of different first letters never match at one place), but a branch of
    literals lets the regex engine jump from one candidate letter to the next instead of
    trying every position; the word boundary before a bounded entry is tested after its first
    letter, whose width the lookbehind adds. A bounded entry may open with a digit, `\\d`,
    which is then its first letter (unless another opens with a digit written out). An entry
    opening with a group is spelled out first ("(?:re-?)?arrang\\w*": "re-?arrang\\w*",
    "arrang\\w*", in the order the engine tries them). None when an entry does not start with
    a plain character (another class, a quantified letter) or holds an alternation of its
    own: `plain` is used."""
    branches = []
    for entries, bounded in ((latin, True), (loose, False)):
        groups = _first_letter_groups(entries, bounded)
        if groups is None:
            return None
        edge = ("(?<!\\w.)", "(?!\\w)") if bounded else ("", "")
        branches += [f"{first}{edge[0]}(?:{'|'.join(rests)}){edge[1]}" for first, rests in groups.items()]
    return "|".join(branches) or None


def _first_letter_groups(entries, bounded: bool) -> dict[str, list[str]] | None:
    """The entries by first letter (in order of first appearance), each as the rest after
    it; None when one cannot be written so (`by_first_letter`)."""
    groups: dict[str, list[str]] = {}
    for entry in (spelled for entry in entries for spelled in _leading_group_spelled_out(entry)):
        digit_class = bounded and entry.startswith("\\d")  # a word character, as a bounded entry's first needs
        first = "\\d" if digit_class else entry[:1]
        if not digit_class and (not first or first in "\\.^$*+?{}[]|()" or (bounded and not re.fullmatch(r"\w", first))):
            return None
        if entry[len(first):len(first) + 1] in ("?", "*", "+", "{") or first == "_" or _top_level_bar(entry) or re.compile(entry).groups:
            return None
        groups.setdefault(first, []).append(entry[len(first):])
    if "\\d" in groups and any(first.isdigit() for first in groups):  # both could match one digit
        return None
    return groups


# A list whose bounded entries open with this many first letters or more is looked for at
# word starts (`\b`) when only its presence is asked: by first letter, Python's engine would
# try most letters of a text (on the dev and corpus instructions such a list searches 25 to
# 50% faster at word starts; one of fewer letters searches faster by first letter).
WORD_START_LETTERS = 10


@dataclass(frozen=True)
class Presence:
    """Whether a text holds a word of some lists, as `pattern(...).search(text)` tells it, for
    less CPU: an ASCII text is searched for the bounded (Latin-script) words alone, since no
    CJK entry can match in it (each is written in characters beyond ASCII, which `presence`
    checks), and where they open with many first letters, at word starts."""

    full: re.Pattern  # the lists' pattern, for any text
    ascii_words: re.Pattern | None = None  # for ASCII text; None: `full` for all

    def __call__(self, text: str) -> bool:
        found = self.ascii_words if self.ascii_words is not None and text.isascii() else self.full
        return found.search(text) is not None


def presence(*word_lists) -> Presence:
    """`Presence` of the words of the lists (as `pattern` matches them)."""
    full = pattern(*word_lists)
    words = [w for words in word_lists for w in words]
    latin = [w for w in words if not is_cjk(w)]
    beyond_ascii = all(all(ord(char) > 127 for char in w) for w in words if is_cjk(w))
    groups = _first_letter_groups(latin, bounded=True) if latin else None
    if groups is None or not beyond_ascii:
        return Presence(full)
    if len(groups) < WORD_START_LETTERS:
        return Presence(full, re.compile(by_first_letter(latin)))
    branches = "|".join(f"{first}(?:{'|'.join(rests)})(?!\\w)" for first, rests in groups.items())
    return Presence(full, re.compile(f"\\b(?:{branches})"))


def _top_level(pattern: str):
    """(index, character, depth) of each character of `pattern` outside its classes and
    escapes; depth counts the groups around it (a group's own parentheses are outside it)."""
    depth, in_class, escaped = 0, False, False
    for index, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            depth -= char == ")"
            yield index, char, depth
            depth += char == "("


def _top_level_bar(entry: str) -> bool:
    """Whether `entry` has a "|" outside its groups and classes."""
    return any(char == "|" and depth == 0 for _, char, depth in _top_level(entry))


def _leading_group_spelled_out(entry: str) -> list[str]:
    """`entry` as the entries it stands for when it opens with a non-capturing group:
    "(?:a|b)c" is "ac", "bc"; "(?:a)?c" is "ac", "c" (greedy: with the group first). Entries
    opening otherwise, or with a group under another quantifier, are returned as they are."""
    if not entry.startswith("(?:"):
        return [entry]
    close = next((index for index, char, depth in _top_level(entry) if char == ")" and depth == 0), None)
    if close is None:
        return [entry]
    inner, after = entry[3:close], entry[close + 1:]
    optional = after.startswith("?")
    rest = after[1:] if optional else after
    if rest[:1] in ("?", "*", "+", "{"):
        return [entry]
    branches = _split_top_level(inner) + ([""] if optional else [])
    return [spelled for branch in branches for spelled in _leading_group_spelled_out(branch + rest)]


def _split_top_level(alternation: str) -> list[str]:
    """The branches of an alternation, split at the bars outside its groups and classes."""
    bars = [index for index, char, depth in _top_level(alternation) if char == "|" and depth == 0]
    return [alternation[start + 1:end] for start, end in zip([-1, *bars], [*bars, len(alternation)])]
