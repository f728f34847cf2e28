"""One logistic regression per theme, tolerant of themes with no positive example in a fold."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression


class PerThemeLogistic:
    """Like OneVsRestClassifier, but a theme with one class only predicts that class's rate."""

    def __init__(self, C: float, class_weight: str | None, seed: int):
        self.C, self.class_weight, self.seed = C, class_weight, seed
        self.coef_: np.ndarray | None = None
        self.intercept_: np.ndarray | None = None

    def fit(self, X, y: np.ndarray) -> PerThemeLogistic:
        n_features = X.shape[1]
        self.coef_ = np.zeros((y.shape[1], n_features))
        self.intercept_ = np.zeros(y.shape[1])
        for j in range(y.shape[1]):
            column = y[:, j]
            if column.min() == column.max():
                rate = min(max(column.mean(), 1e-4), 1 - 1e-4)
                self.intercept_[j] = np.log(rate / (1 - rate))
                continue
            clf = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000, random_state=self.seed)
            clf.fit(X, column)
            self.coef_[j] = clf.coef_[0]
            self.intercept_[j] = clf.intercept_[0]
        return self

    def predict_proba(self, X) -> np.ndarray:
        logits = X @ self.coef_.T + self.intercept_
        return 1.0 / (1.0 + np.exp(-np.asarray(logits)))
