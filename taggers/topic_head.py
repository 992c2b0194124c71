"""A trained topic head: a softmax layer from article embeddings to taxonomy codes.

Trained on labelled data whose categories a mapping file turns into taxonomy
codes (`storywire taxonomy train`): logistic regression on the flow's
embeddings, or a layer fine-tuned together with its own encoder (saved beside
the head). Saved as JSON (weights, classes, the encoder it was trained with),
so it loads without pickle and says when it is used with a different encoder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

KIND = "storywire.topic-head/v1"


class TopicHead(ClassifierMixin, BaseEstimator):
    """A linear softmax layer over unit-length embeddings (scikit-learn style); `fit` learns it by logistic regression.

    Learned attributes: `classes_` (taxonomy codes), `coef_`, `intercept_`,
    `encoder_version_` (the embeddings it expects), `encoder_path_` (None, or
    the encoder fine-tuned with the head, whose embeddings it reads instead of
    the flow's) and `metadata_`.
    """

    def __init__(self, C: float = 10.0, max_iter: int = 2000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: list[str], encoder_version: str = "", metadata: dict | None = None) -> "TopicHead":
        from sklearn.linear_model import LogisticRegression

        if len(set(y)) < 2:
            raise ValueError(f"a topic head needs at least two classes; the training data has {sorted(set(y))}")
        model = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(X, y)
        coef, intercept = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # sklearn keeps one row for two classes; keep one per class
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        return self.set_weights(model.classes_, coef, intercept, encoder_version, metadata)

    def set_weights(self, classes, coef, intercept, encoder_version: str, metadata: dict | None = None, encoder_path: str | None = None) -> "TopicHead":
        """Take learned weights as they are: from `fit`, a saved head, or a layer trained with its encoder."""
        self.classes_ = np.asarray(classes)
        self.coef_, self.intercept_ = np.asarray(coef, dtype=float), np.asarray(intercept, dtype=float)
        self.encoder_version_, self.encoder_path_ = encoder_version, encoder_path
        self.metadata_ = dict(metadata or {})
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = np.asarray(X) @ self.coef_.T + self.intercept_
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def check_encoder(self, version: str) -> None:
        """Refuse embeddings from another encoder than the one the head was trained on."""
        if self.encoder_version_ and self.encoder_version_ != version:
            raise ValueError(
                f"the topic head was trained on {self.encoder_version_} embeddings but the encoder is {version}; "
                "retrain it with `storywire taxonomy train` or configure its encoder"
            )

    def save(self, path: str | Path) -> None:
        body = {
            "kind": KIND,
            "classes": self.classes_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_.tolist(),
            "C": self.C,
            "encoder": self.encoder_version_,
            "encoder_path": os.path.relpath(self.encoder_path_, Path(path).parent) if self.encoder_path_ else None,
            "metadata": self.metadata_,
        }
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(body) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "TopicHead":
        try:
            body = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read topic head {path}: {exc}; train one with `storywire taxonomy train`") from None
        if body.get("kind") != KIND:
            raise ValueError(f"{path} is not a storywire topic head (kind {body.get('kind')!r}, expected {KIND!r})")
        encoder_path = body.get("encoder_path")
        if encoder_path is not None:
            encoder_path = str(Path(path).parent / encoder_path)
            if not Path(encoder_path).is_dir():
                raise ValueError(
                    f"the topic head {path} reads its own fine-tuned encoder {encoder_path}, which is missing; "
                    "keep the head's .encoder folder beside it or retrain it"
                )
        return cls(C=body["C"]).set_weights(body["classes"], body["coef"], body["intercept"], body["encoder"], body.get("metadata", {}), encoder_path)
