"""Baselines every model is measured against, trained on the same split.

- TF-IDF + logistic regression: lexical cues only; the bar a fine-tune must clear.
- Zero-shot similarity: MiniLM sentence embeddings of the document against the
  five model definitions, no training at all.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from transformers import AutoModel, AutoTokenizer

from classifier.base_model import minilm_folder
from classifier.model import mean_pool
from classifier.taxonomy import MODELS

__all__ = ["tfidf_logreg", "zero_shot_similarity"]


def tfidf_logreg(train_texts: list[str], train_labels: list[int], seed: int = 13) -> Pipeline:
    """Word 1-2-gram TF-IDF with a multinomial logistic regression, fitted on the training texts."""
    pipeline = make_pipeline(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, max_features=200_000),
        LogisticRegression(C=10.0, max_iter=3000, random_state=seed),
    )
    return pipeline.fit(train_texts, train_labels)


@torch.inference_mode()
def _embed(texts: list[str], max_length: int = 256, batch_size: int = 32) -> np.ndarray:
    folder = minilm_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    vectors = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[start : start + batch_size], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
        )
        pooled = mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])
        vectors.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    return np.concatenate(vectors) if vectors else np.zeros((0, model.config.hidden_size))


def zero_shot_similarity(texts: list[str]) -> np.ndarray:
    """Softmax over cosine similarities (scaled by 20) between each text and each model's definition."""
    definitions = _embed([f"{m.name}. {m.definition} {m.decisive_facts}" for m in MODELS])
    scores = _embed(texts) @ definitions.T * 20.0
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)
