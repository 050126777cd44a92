"""ShopBench: the facts of the benchmark and the offline reimplementation of its scorer."""
