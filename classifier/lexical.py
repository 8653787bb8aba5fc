"""The lexical model: TF-IDF + logistic regression, stored as JSON and safetensors (no pickles).

On our corpus lexical cues are strong (see the model card), so a version may
blend this model's probabilities with the fine-tuned transformer's; the blend
weight is chosen on validation. Stored as the vectorizer's vocabulary and idf
plus the regression's coefficients, so loading rebuilds the same arrays.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

__all__ = ["LexicalModel"]

VECTORIZER = {"sublinear_tf": True, "ngram_range": (1, 2), "min_df": 2, "max_features": 200_000}


class LexicalModel:
    """Word 1-2-gram TF-IDF and a multinomial logistic regression over the five labels."""

    def __init__(self, vectorizer: TfidfVectorizer, regression: LogisticRegression) -> None:
        self.vectorizer = vectorizer
        self.regression = regression

    @classmethod
    def fit(cls, texts: list[str], labels: list[int], seed: int = 13, c: float = 10.0) -> LexicalModel:
        vectorizer = TfidfVectorizer(**VECTORIZER)
        features = vectorizer.fit_transform(texts)
        regression = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(features, labels)
        return cls(vectorizer, regression)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probabilities (n, classes) in label order."""
        return self.regression.predict_proba(self.vectorizer.transform(texts))

    def save(self, folder: Path) -> None:
        """``lexical.json`` (vocabulary, settings) and ``lexical.safetensors`` (idf, coefficients)."""
        vocabulary = {term: int(i) for term, i in self.vectorizer.vocabulary_.items()}
        meta = {"vectorizer": {**VECTORIZER, "ngram_range": list(VECTORIZER["ngram_range"])}, "vocabulary": vocabulary}
        meta["classes"] = [int(c) for c in self.regression.classes_]
        (folder / "lexical.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        save_file(
            {
                # safetensors writes the raw buffer: C order is required (sklearn's coef_ is Fortran-ordered)
                "idf": np.ascontiguousarray(self.vectorizer.idf_, dtype=np.float64),
                "coef": np.ascontiguousarray(self.regression.coef_, dtype=np.float64),
                "intercept": np.ascontiguousarray(self.regression.intercept_, dtype=np.float64),
            },
            str(folder / "lexical.safetensors"),
        )

    @classmethod
    def load(cls, folder: Path) -> LexicalModel:
        meta = json.loads((folder / "lexical.json").read_text(encoding="utf-8"))
        arrays = load_file(str(folder / "lexical.safetensors"))
        settings = dict(meta["vectorizer"], ngram_range=tuple(meta["vectorizer"]["ngram_range"]))
        vectorizer = TfidfVectorizer(**settings, vocabulary=meta["vocabulary"])
        vectorizer.idf_ = arrays["idf"]
        regression = LogisticRegression()
        regression.classes_ = np.asarray(meta["classes"])
        regression.coef_ = arrays["coef"]
        regression.intercept_ = arrays["intercept"]
        return cls(vectorizer, regression)

    @staticmethod
    def exists(folder: Path) -> bool:
        return (folder / "lexical.json").exists() and (folder / "lexical.safetensors").exists()
