"""Deterministic, seeded generator of labelled sample documents for training and evaluation.

``generate_corpus`` writes document texts (with layout blocks and ground-truth tags) for every
catalogue item; ``samplegen.render`` turns them into text PDFs, scans and phone photos;
``generate_multidoc`` composes several documents into one file (``samplegen.multidoc`` renders it);
``python -m samplegen`` writes corpora and the demo inbox.
"""

from samplegen.corpus import generate_corpus, generate_doc
from samplegen.doc import Block, SampleDoc
from samplegen.families import FAMILIES, HELDOUT_FAMILIES, TRAIN_FAMILIES
from samplegen.multidoc import MultiDoc, PartTruth, generate_multidoc, generate_multidocs
from samplegen.perturb import ocr_noise

__all__ = [
    "FAMILIES",
    "HELDOUT_FAMILIES",
    "TRAIN_FAMILIES",
    "Block",
    "MultiDoc",
    "PartTruth",
    "SampleDoc",
    "generate_corpus",
    "generate_doc",
    "generate_multidoc",
    "generate_multidocs",
    "ocr_noise",
]
