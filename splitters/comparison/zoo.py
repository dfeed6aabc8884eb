"""What a comparison compares by default: the strategies and the zoo of models."""

from __future__ import annotations

from typing import Any

from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

DEFAULT_STRATEGIES = ("tail", "random", "maxmin", "cluster", "target")


def default_models(random_state: int = 0) -> dict[str, Any]:
    """The default zoo: seven models that differ in kind and capacity.

    Parameters
    ----------
    random_state : int, default=0
        Seed of the randomised models (extra trees, decision tree).

    Returns
    -------
    dict of str to estimator
        Unfitted scikit-learn classifiers by short name.

    Examples
    --------
    >>> sorted(default_models())
    ['extra_trees', 'knn', 'lda', 'logreg', 'naive_bayes', 'qda', 'tree']
    """
    return {
        "logreg": LogisticRegression(C=0.01, max_iter=300),
        "lda": LinearDiscriminantAnalysis(),
        "qda": QuadraticDiscriminantAnalysis(reg_param=0.1),
        "naive_bayes": GaussianNB(),
        "knn": KNeighborsClassifier(n_neighbors=5),
        "extra_trees": ExtraTreesClassifier(n_estimators=60, max_depth=18, random_state=random_state, n_jobs=1),
        "tree": DecisionTreeClassifier(max_depth=10, random_state=random_state),
    }
