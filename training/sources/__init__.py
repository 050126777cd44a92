"""The public datasets a training set is built from, by SOURCE name: `SOURCES` for `build`,
`LABELLED` for `label` (the rows a language model labels)."""
from __future__ import annotations

from training.records import Source
from training.sources import ecinstruct, esci, general, m2, reviews

SOURCES: dict[str, Source] = {
    source.name: source
    for source in (esci.SOURCE, reviews.SOURCE, m2.SOURCE, ecinstruct.SOURCE, general.MMLU, general.ALPACA)
}

LABELLED: dict[str, Source] = {source.name: source for source in (m2.LABELLED, reviews.LABELLED)}
