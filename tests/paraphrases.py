"""Prompts the classifier has never seen: every dev task reworded (other wording, options
elsewhere, other numbering, other languages' product text), and tasks of ShopBench's hidden
kinds written from its public task descriptions. (prompt, is_multiple_choice, task type,
profile); the flag is what the official evaluator would pass."""
MC, RANK, RETR, NER, GEN = "multiple-choice", "ranking", "retrieval", "named_entity_recognition", "generation"
TITLE = "title"  # the profile of generation asking for a title or a translation

PARAPHRASES = [
    # task1: explain a category
    ("Instructions: Briefly explain what the product category 'Espresso Machines' covers.\nInput: Espresso Machines\nOutput:", False, GEN, GEN),
    ("Describe in one or two sentences what shoppers find in the category below.\nCategory: Wall Decals\nOutput:", False, GEN, GEN),
    # task2: category with an attribute
    ("Pick the product category that is most likely to have the attribute 'screen refresh rate'.\n0. gaming monitor\n1. sofa\n2. candle\n3. shampoo\nAnswer:", True, MC, MC),
    ("Attribute: 'thread count'. Which category does it belong to?\n0.bed sheet\n1.laptop\n2.dog leash\n3.coffee\nAnswer: ", True, MC, MC),
    # task3: review snippets
    ("A shopper bought a backpack and wants to praise its durability. Below are 12 candidate review snippets.\n1. sturdy zippers\n2. cheap\n3. fell apart\n4. lasts for years\n5. nice color\n6. heavy duty fabric\n7. too small\n8. great price\n9. well made\n10. comfy straps\n11. arrived late\n12. smells bad\nPick three snippets the shopper would most likely write. Answer with three indices separated by commas.\nOutput:", False, RETR, RETR),
    ("Choose 3 of the following snippets for a positive review about the fit of a dress.\n1) runs true to size\n2) flattering cut\n3) bad stitching\n4) fits perfectly\n5) itchy\n6) faded\n7) great for parties\n8) too long\nOutput:", False, RETR, RETR),
    # task4: NER
    ("Find every span in the search query below whose entity type is 'brand'. Output the spans separated by commas, nothing else.\nQuery: nike air max 90 herren\nOutput:", False, NER, NER),
    ("Un client a tapé la requête suivante. Extract the phrases of entity type 'color' from it.\nQuery: robe rouge longue\nOutput:", False, NER, NER),
    ("Identify the named entities of type 'product line' mentioned in this title and list them with commas.\nTitle: Apple iPhone 13 Pro Max 256GB Graphite\nOutput:", False, NER, NER),
    # task5: attribute MC
    ("The item 'Levi's 501 Original Fit Jeans, Stonewash' is listed online. What material is it made of?\n0. denim\n1. silk\n2. leather\n3. cannot be inferred\nAnswer:", True, MC, MC),
    ("Options:\n0. 12 volts\n1. 220 volts\n2. 5 volts\n3. It cannot be inferred\nThe listing 'ANKER PowerCore 10000 USB-C power bank' is on a marketplace. What output voltage does the USB port give?\nAnswer:", True, MC, MC),
    # task6: extractive keyphrase (ROUGE-L)
    ("Here is a review of a(n) blender and an aspect it mentions. Copy the short phrase from the review that talks about that aspect; do not invent words.\nReview: Loud as a jet engine but it crushes ice in seconds. Cleanup is easy.\nAspect: noise\nOutput:", False, GEN, NER),
    ("Extract the key phrase in the review that refers to the aspect 'battery'. Only one phrase, no explanations.\nReview: Die Akkulaufzeit ist fantastisch, lasts two full days.\nAspect: battery\nOutput:", False, GEN, NER),
    # task7: aspects of a review
    ("You are given a review for a(n) office chair and a numbered list of ten aspects. Which three aspects does the review cover? Answer with three numbers separated by commas.\nReview: Super comfy, solid build, and the price was right.\nAspect List:\n1.comfort\n2.color\n3.durability\n4.value\n5.smell\n6.noise\n7.weight\n8.delivery\n9.size\n10.style\nOutput:", False, RETR, RETR),
    # task8: arithmetic MC
    ("A listing reads 'Oatly Oat Milk, 64 fl oz (Pack of 6)'. How many fluid ounces are in the whole pack?\n0. 64\n1. 384\n2. 70\n3. 128\nAnswer:", True, MC, MC),
    # task9: commonsense MC
    ("Which event most likely prevents the event \"PersonX buys a new phone\"?\n0. PersonX lost their wallet\n1. PersonX likes music\n2. PersonX went jogging\n3. PersonX has a cat\nAnswer:", True, MC, MC),
    # task10: complement MC
    ("Which product type goes best together with a(n) espresso machine?\n0. milk frother\n1. lawn mower\n2. ski boots\n3. printer ink\nAnswer:", True, MC, MC),
    # task11: query relation MC
    ("How is the query \"running shoes\" related to the query \"nike pegasus 40 men\"?\n0. irrelevant\n1. substitute\n2. complement\n3. narrowing\nAnswer:", True, MC, MC),
    # task12: ranking
    ("Sort these 5 products from most to least relevant for the search 'usb c hub'.\n1. Anker 7-in-1 USB C Hub\n2. HDMI cable 6ft\n3. Satechi USB-C Multiport Adapter\n4. Mouse pad\n5. USB-C to USB adapter 2 pack\nReturn the product numbers as a comma-separated permutation.\nOutput:", False, RANK, RANK),
    ("Query: 'kaffeemaschine'\nProducts:\n1. Philips Kaffeevollautomat\n2. Tassen Set\n3. Melitta Filterkaffeemaschine\n4. Entkalker\n5. Kaffeebohnen 1kg\nRank the products by relevance to the query. Output only the ranking.\nOutput:", False, RANK, RANK),
    ("1. red wine glass\n2. corkscrew\n3. wine rack\n4. beer mug\nOrder the items above by how well they match the query 'wine accessories'.\nOutput:", False, RANK, RANK),
    # task13: next query from a session
    ("You shop online and perform the actions below. Which queries will you most likely type next?\nAction Sequence:\nQuery keyword 'yoga mat'\nClick on product 'Gaiam Yoga Mat 6mm'\nCandidate Query List:\n1. yoga blocks\n2. car tires\n3. yoga strap\n4. printer paper\n5. mat cleaner spray\n6. guitar strings\n7. dog food\n8. yoga towel\n9. phone case\n10. lamp\nOutput (answer in three comma-separated numbers):", False, RETR, RETR),
    # task14: also-bought
    ("After buying 'Canon EOS R50 camera body', which 3 of these 12 products would the customer also buy?\n1. camera lens\n2. dish soap\n3. SD card 128GB\n4. tennis racket\n5. camera bag\n6. bananas\n7. tripod\n8. sofa\n9. lipstick\n10. hammer\n11. candle\n12. socks\nOutput:", False, RETR, RETR),
    # task15: rating, no options
    ("Instructions: Rate the sentiment of this review from 1 to 5 where 5 is the most positive.\nInput: a review for a(n) toaster\nWorks great, toast is even and it looks nice.\nOutput:\nAnswer:", True, MC, MC),
    # task16: keyword sets, German text, options in the middle
    ("Given the product below, which keyword set fits it best?\n0. laufschuhe, sport, damen\n1. kochtopf, küche\n2. buch, roman\n3. lampe, wohnzimmer\nProduktname: Adidas Damen Laufschuh Ultraboost\nBeschreibung: Leichter Laufschuh mit Boost-Dämpfung.\nAnswer:", True, MC, MC),
    # task17: multilingual title generation
    ("The product 'Ravensburger Puzzle 1000 Teile Neuschwanstein' is sold on a German site. Write a suitable title for it on a(n) English shopping website.\nOutput:", False, GEN, TITLE),
    ("商品「無印良品 アロマディフューザー」が日本のサイトにあります。Generate a product title for a Spanish online store.\nOutput:", False, GEN, TITLE),
    # task18: same product, other language
    ("A product described as 'Waterproof hiking boots with Vibram sole' is listed online. Which description is the same product in another language?\n0. Botas de montaña impermeables con suela Vibram\n1. Kaffeemaschine mit Mahlwerk\n2. 子供用の自転車\n3. Chaise de bureau ergonomique\nAnswer:", True, MC, MC),
    # hidden kinds, written from ShopBench's public task list
    ("Extract the attribute value for 'capacity' from the product title. Output the entity only.\nTitle: SanDisk 256GB Ultra microSDXC card\nOutput:", False, NER, NER),
    ("Please list all entities of type 'size' that appear in the query.\nQuery: queen bed frame with drawers\nOutput:", False, NER, NER),
    ("Summarize the following product description in one sentence.\nDescription: This stainless steel water bottle keeps drinks cold for 24 hours and hot for 12, with a leak-proof lid.\nOutput:", False, GEN, GEN),
    ("Answer the shopper's question using the product information.\nProduct: Kindle Paperwhite, 6.8 inch display, waterproof IPX8.\nQuestion: Can I read it in the bath?\nOutput:", False, GEN, GEN),
    ("Translate the following product title into Japanese.\nTitle: Stainless Steel Insulated Water Bottle 1L\nOutput:", False, GEN, TITLE),
    ("Write a short explanation of why a customer searching 'gift for gardener' might buy pruning shears.\nOutput:", False, GEN, GEN),
    ("Given the user's purchase history, select the 3 products they are most likely to buy next.\nPurchase history: tent, sleeping bag\nCandidates:\n1. camping stove\n2. office chair\n3. headlamp\n4. lipstick\n5. water filter\n6. printer\n7. trekking poles\n8. vase\nOutput:", False, RETR, RETR),
    ("Which 2 of the reviews below mention shipping problems? Output two numbers separated by a comma.\n1. Arrived broken\n2. Love it\n3. Package came two weeks late\n4. Good value\n5. Nice color\n6. Works fine\nOutput:", False, RETR, RETR),
    ("The query is 'organic baby food'. Re-rank the following candidates by relevance and output the permutation.\n[1] Gerber organic puree\n[2] Baby stroller\n[3] Plum Organics pouches\n[4] Diaper cream\n[5] Happy Baby organic cereal\nOutput:", False, RANK, RANK),
    ("Rank the reviews below from most helpful to least helpful.\n(1) Great.\n(2) The zipper broke after a week, but customer service replaced it quickly.\n(3) Meh\n(4) Fits well, true to size, fabric is thick and warm.\nOutput:", False, RANK, RANK),
    ("Is the review below positive or negative?\n0. negative\n1. positive\nReview: Terrible quality, returned it.\nAnswer:", True, MC, MC),
    ("Which product is a substitute for 'AA batteries 24 pack'?\n1. AAA batteries\n2. Energizer AA 20 pack\n3. battery charger\n4. flashlight\nAnswer:", True, MC, MC),
    ("What is the unit price of 'Coca-Cola 12 fl oz cans, 24 pack' sold for $12.00? Answer with the option number.\n0. $0.50 per can\n1. $1.00 per can\n2. $0.25 per can\n3. $2.00 per can\nAnswer:", True, MC, MC),
    ("Wählen Sie 3 Produkte aus der Liste, die zur Suche 'kinderfahrrad 16 zoll' passen.\n1. Kinderfahrrad 16 Zoll blau\n2. Laufrad\n3. Fahrradhelm Kinder\n4. Kinderfahrrad 16 Zoll pink\n5. Rasenmäher\n6. Kinderfahrrad 16 Zoll mit Stützrädern\n7. Toaster\nOutput:", False, RETR, RETR),
    ("Clasifica los siguientes productos según su relevancia para la búsqueda 'zapatillas running'.\n1. Zapatillas Nike running\n2. Calcetines deportivos\n3. Zapatillas Asics Gel\n4. Bolso de mano\n5. Zapatillas Adidas\nOutput:", False, RANK, RANK),
    ("Extrahieren Sie die Entitäten vom Typ 'Marke' aus der Anfrage.\nQuery: bosch akkuschrauber 18v\nOutput:", False, NER, NER),
    ("Pick the query that best matches the product 'Instant Pot Duo 7-in-1'.\n0. pressure cooker\n1. garden hose\n2. yoga pants\n3. phone charger\nAnswer:", True, MC, MC),
    ("Generate a search query a user might type to find this product: 'Bose QuietComfort 45 Headphones'.\nOutput:", False, GEN, GEN),
    ("Explain the difference between a substitute and a complement product, using coffee as an example.\nOutput:", False, GEN, GEN),
    ("Which of these 10 items are accessories for an iPhone 15? Choose three.\n1. MagSafe charger\n2. frying pan\n3. screen protector\n4. garden gnome\n5. phone case\n6. bicycle\n7. candle\n8. book\n9. pillow\n10. shovel\nOutput:", False, RETR, RETR),
    # numbered lists that are not candidates
    ("Here are the key features of a blender:\n1. 1200W motor\n2. glass jar\n3. 6 speeds\nWrite a short product description that uses them.\nOutput:", False, GEN, GEN),
    ("Setup steps:\n1. open the box\n2. charge for 2 hours\n3. pair with the app\nSummarize these instructions in one sentence.\nOutput:", False, GEN, GEN),
]
