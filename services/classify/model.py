"""Free-text report classification: category codes with confidences, from a versioned model file.

Features are character 1–3-grams (TF-IDF, sublinear) of the NFKC-normalised text; the classifier is a
LinearSVC calibrated with sigmoid scaling (CalibratedClassifierCV), so confidences are probabilities.
The artifact is a joblib file holding the fitted pipeline and its metadata (version = training date +
hash of the training rows, the categories, the default threshold chosen by cross-validation on the
training split). It is loaded once per process and reloaded when the file's mtime or size changes.

The threshold decides what happens to a report: confidence at or above it is dispatched automatically,
below it goes to triage with the top-3 suggestions. ``GRIDCASE_CLASSIFY_THRESHOLD`` overrides the
model's default per deployment; ``GRIDCASE_CLASSIFY_MODEL`` points at another model file.
Category 9999 (其他) is never predicted: the command centre triages it by hand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE_DIR = Path(str(resources.files("services.classify")))
DATA_PATH = PACKAGE_DIR / "data" / "reports.jsonl"
DEFAULT_MODEL_PATH = PACKAGE_DIR / "model" / "classifier.joblib"
FORMAT = 1  # artifact layout; bump when the dict below changes incompatibly

# Default threshold search: the lowest threshold whose out-of-fold auto-dispatch accuracy reaches this.
TARGET_AUTO_ACCURACY = 0.97
THRESHOLD_FLOOR = 0.20


@dataclass(frozen=True)
class Report:
    text: str
    category: str
    style: str = "unknown"
    split: str = "train"


@dataclass(frozen=True)
class Decision:
    """What to do with one report: dispatch ``code`` automatically, or triage with ``suggestions``."""

    auto: bool
    code: str | None  # the predicted category when ``auto``
    confidence: float
    suggestions: list[tuple[str, float]]  # top 3, best first (shown to the operator at triage)
    threshold: float
    model_version: str


@dataclass
class Artifact:
    pipeline: Any
    version: str
    trained_at: str
    categories: list[str]
    threshold: float
    n_train: int
    data_sha256: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "pipeline": self.pipeline,
            "version": self.version,
            "trained_at": self.trained_at,
            "categories": self.categories,
            "threshold": self.threshold,
            "n_train": self.n_train,
            "data_sha256": self.data_sha256,
            "extra": self.extra,
        }

    def metadata(self) -> dict[str, Any]:
        d = self.to_dict()
        del d["pipeline"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Artifact:
        if d.get("format") != FORMAT:
            raise ValueError(f"unsupported classifier artifact format {d.get('format')!r}")
        return cls(
            pipeline=d["pipeline"],
            version=d["version"],
            trained_at=d["trained_at"],
            categories=list(d["categories"]),
            threshold=float(d["threshold"]),
            n_train=int(d["n_train"]),
            data_sha256=d["data_sha256"],
            extra=dict(d.get("extra", {})),
        )


# --- text and data -------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """NFKC (full-width digits and letters to half-width), lower case, whitespace collapsed.

    Module-level so that the fitted vectorizer pickles (a lambda or a bound method would not).
    """
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def load_reports(path: Path | str = DATA_PATH) -> list[Report]:
    rows: list[Report] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            d = json.loads(line)
            if not isinstance(d.get("text"), str) or not isinstance(d.get("category"), str):
                raise ValueError(f"{path}:{n}: needs string fields text and category")
            rows.append(Report(d["text"], d["category"], d.get("style", "unknown"), d.get("split", "train")))
    return rows


def data_hash(rows: Iterable[Report]) -> str:
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: (r.category, r.text)):
        h.update(f"{r.category}\t{r.text}\n".encode())
    return h.hexdigest()


# --- training ------------------------------------------------------------------------------------


class CompactCalibratedLinear:
    """The fitted CalibratedClassifierCV(LinearSVC, sigmoid) reduced to arrays: same probabilities.

    sklearn's own predict_proba walks 3 folds x 37 per-class calibrators with input validation each
    (~7 ms per report); this is one sparse product and a few numpy operations. float32 halves the file.
    """

    def __init__(self, calibrated: Any) -> None:
        self.classes_ = np.asarray(calibrated.classes_)
        folds = calibrated.calibrated_classifiers_
        k = len(self.classes_)
        for f in folds:
            if list(f.estimator.classes_) != list(self.classes_) or len(f.calibrators) != k:
                raise ValueError("every fold must know every class")
        # (n_features, folds * k): one product gives every fold's decision values
        self.coef = np.hstack([f.estimator.coef_.T for f in folds]).astype(np.float32)
        self.intercept = np.concatenate([f.estimator.intercept_ for f in folds]).astype(np.float64)
        self.a = np.concatenate([[c.a_ for c in f.calibrators] for f in folds]).astype(np.float64)
        self.b = np.concatenate([[c.b_ for c in f.calibrators] for f in folds]).astype(np.float64)
        self.n_folds = len(folds)

    def predict_proba(self, x: Any) -> Any:
        k = len(self.classes_)
        decision = np.asarray(x @ self.coef, dtype=np.float64) + self.intercept
        p = 1.0 / (1.0 + np.exp(self.a * decision + self.b))  # expit(-(a*d + b))
        p = p.reshape(-1, self.n_folds, k)
        total = p.sum(axis=2, keepdims=True)
        p = np.divide(p, total, out=np.full_like(p, 1.0 / k), where=total != 0)
        p = p.mean(axis=1)
        p[(p > 1.0) & (p <= 1.0 + 1e-5)] = 1.0
        return p


class CompactModel:
    """What the artifact keeps: the fitted vectorizer and the compact classifier."""

    def __init__(self, pipeline: Any) -> None:
        self.tfidf = pipeline.named_steps["tfidf"]
        if hasattr(self.tfidf, "stop_words_"):
            self.tfidf.stop_words_ = None  # kept by sklearn for introspection only
        self.clf = CompactCalibratedLinear(pipeline.named_steps["clf"])
        self.classes_ = self.clf.classes_

    def predict_proba(self, texts: Sequence[str]) -> Any:
        return self.clf.predict_proba(self.tfidf.transform(list(texts)))


def build_pipeline(c: float = 1.0, folds: int = 3) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    analyzer="char",
                    ngram_range=(1, 3),
                    preprocessor=normalize,
                    sublinear_tf=True,
                    min_df=1,
                    dtype=np.float32,
                ),
            ),
            (
                "clf",
                CalibratedClassifierCV(LinearSVC(C=c, class_weight="balanced"), method="sigmoid", cv=folds),
            ),
        ]
    )


def choose_threshold(
    confidences: Sequence[float],
    correct: Sequence[bool],
    target: float = TARGET_AUTO_ACCURACY,
    floor: float = THRESHOLD_FLOOR,
) -> float:
    """The lowest threshold (most auto-dispatch) whose auto-dispatched share is at least ``target`` correct."""
    pairs = sorted(zip(confidences, correct, strict=True), reverse=True)
    best = 1.0
    right = 0
    for i, (conf, ok) in enumerate(pairs, 1):
        right += ok
        # Only cut between distinct confidences, so the threshold admits exactly the first i.
        if i < len(pairs) and pairs[i][0] == conf:
            continue
        if right / i >= target:
            best = conf
    return round(max(floor, best), 3)


def train(rows: Sequence[Report], *, c: float = 1.0, seed: int = 0) -> Artifact:
    """Fit on ``rows`` (any split: the caller chooses) and pick the default threshold out-of-fold."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    texts = [r.text for r in rows]
    labels = [r.category for r in rows]
    if "9999" in labels:
        raise ValueError("category 9999 (其他) is triaged by hand; leave it out of the training data")
    counts = {lab: labels.count(lab) for lab in set(labels)}
    folds = min(5, min(counts.values()))
    if folds < 2:
        raise ValueError("every category needs at least two training reports")
    inner = min(3, folds - 1) if folds > 2 else 2
    # Out-of-fold probabilities give an honest default threshold without touching the test split.
    oof = cross_val_predict(
        build_pipeline(c, inner),
        texts,
        labels,
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
        method="predict_proba",
    )
    classes = sorted(counts)
    best = oof.argmax(axis=1)
    conf = oof.max(axis=1)
    correct = [classes[b] == y for b, y in zip(best, labels, strict=True)]
    threshold = choose_threshold(conf.tolist(), correct)

    fitted = build_pipeline(c, min(3, folds))
    fitted.fit(texts, labels)
    pipeline = CompactModel(fitted)
    digest = data_hash(rows)
    now = dt.datetime.now(dt.UTC)
    return Artifact(
        pipeline=pipeline,
        version=f"{now:%Y%m%d}-{digest[:12]}",
        trained_at=now.isoformat(timespec="seconds"),
        categories=[str(x) for x in pipeline.classes_],
        threshold=threshold,
        n_train=len(rows),
        data_sha256=digest,
        extra={"c": c, "cv_folds": folds, "oof_accuracy": round(float(np.mean(correct)), 4)},
    )


def save(artifact: Artifact, path: Path | str = DEFAULT_MODEL_PATH) -> Path:
    """Write atomically (other processes reload on mtime and must never see half a file)."""
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    joblib.dump(artifact.to_dict(), tmp, compress=("xz", 6))
    os.replace(tmp, path)
    meta = path.with_suffix(".json")
    meta.write_text(json.dumps(artifact.metadata(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


# --- loading and prediction ----------------------------------------------------------------------

_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int], Artifact]] = {}


def model_path() -> Path:
    configured = os.environ.get("GRIDCASE_CLASSIFY_MODEL")
    return Path(configured) if configured else DEFAULT_MODEL_PATH


def load(path: Path | str | None = None) -> Artifact:
    """The model at ``path``: loaded once per process, reloaded when the file changes (one stat)."""
    p = Path(path) if path is not None else model_path()
    key = str(p)
    st = os.stat(p)
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _cache.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        import joblib

        # A file we ship or `gridcase routing train` writes: pickles execute code, never load others'.
        artifact = Artifact.from_dict(joblib.load(p))
        _cache[key] = (stamp, artifact)
        return artifact


def threshold(artifact: Artifact | None = None) -> float:
    """``GRIDCASE_CLASSIFY_THRESHOLD`` if set, else the model's default."""
    configured = os.environ.get("GRIDCASE_CLASSIFY_THRESHOLD")
    if configured:
        value = float(configured)
        if not 0.0 <= value <= 1.0:
            raise ValueError("GRIDCASE_CLASSIFY_THRESHOLD must be between 0 and 1")
        return value
    return (artifact or load()).threshold


def rank_many(
    texts: Sequence[str], artifact: Artifact | None = None, top: int = 3
) -> list[list[tuple[str, float]]]:
    art = artifact or load()
    proba = art.pipeline.predict_proba(texts)
    classes = art.categories
    k = min(top, len(classes))
    order = np.argsort(-proba, axis=1)[:, :k]
    return [[(classes[j], float(row[j])) for j in idx] for row, idx in zip(proba, order, strict=True)]


def predict(text: str, top: int = 3, artifact: Artifact | None = None) -> list[tuple[str, float]]:
    """The ``top`` most likely category codes with confidences (probabilities), best first."""
    return rank_many([text], artifact, top)[0]


def classify(
    text: str, artifact: Artifact | None = None, threshold_override: float | None = None
) -> Decision:
    """Auto-dispatch above the threshold, else triage with the top-3 suggestions."""
    return classify_many([text], artifact, threshold_override)[0]


def classify_many(
    texts: Sequence[str], artifact: Artifact | None = None, threshold_override: float | None = None
) -> list[Decision]:
    """``classify`` for many texts at once: one pass through the pipeline costs about a tenth per
    text of one call each (the consumer classifies a batch's reports together)."""
    if not texts:
        return []
    art = artifact or load()
    limit = threshold_override if threshold_override is not None else threshold(art)
    out = []
    for suggestions in rank_many(texts, art, 3):
        code, conf = suggestions[0]
        auto = conf >= limit
        out.append(
            Decision(
                auto=auto,
                code=code if auto else None,
                confidence=conf,
                suggestions=suggestions,
                threshold=limit,
                model_version=art.version,
            )
        )
    return out
