"""Training data for the QLoRA fine-tune: builders that turn public e-commerce datasets
into ShopBench questions, the export to chat records for axolotl, and the checks that the
answers score and the questions route as inference will see them.

    python -m training --help
"""
