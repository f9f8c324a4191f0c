"""Evaluation of a classifier on the held-out split, and the acceptance it must meet.

Acceptance (issue 7): of the reports dispatched automatically at least 95 % are right, at least 80 % of
reports are dispatched automatically, and the right category is among the top 3 for at least 97 %.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.classify import model as m

MIN_AUTO_ACCURACY = 0.95
MIN_AUTO_RATE = 0.80
MIN_TOP3 = 0.97


@dataclass(frozen=True)
class CategoryScore:
    code: str
    support: int
    precision: float
    recall: float


@dataclass(frozen=True)
class Evaluation:
    model_version: str
    threshold: float
    n: int
    accuracy: float
    auto_rate: float  # share of reports at or above the threshold
    auto_accuracy: float  # accuracy among those
    top3: float
    per_category: list[CategoryScore] = field(default_factory=list)
    by_style: dict[str, float] = field(default_factory=dict)  # accuracy per report style

    def failures(self) -> list[str]:
        out = []
        if self.auto_accuracy < MIN_AUTO_ACCURACY:
            out.append(f"auto-dispatched accuracy {self.auto_accuracy:.1%} < {MIN_AUTO_ACCURACY:.0%}")
        if self.auto_rate < MIN_AUTO_RATE:
            out.append(f"auto-dispatch rate {self.auto_rate:.1%} < {MIN_AUTO_RATE:.0%}")
        if self.top3 < MIN_TOP3:
            out.append(f"top-3 hit rate {self.top3:.1%} < {MIN_TOP3:.0%}")
        return out

    @property
    def accepted(self) -> bool:
        return not self.failures()


def evaluate(
    reports: Sequence[m.Report] | None = None,
    artifact: m.Artifact | None = None,
    threshold: float | None = None,
) -> Evaluation:
    """Score ``reports`` (default: the test split of the shipped data) with ``artifact`` (default: loaded)."""
    art = artifact or m.load()
    rows = list(reports) if reports is not None else [r for r in m.load_reports() if r.split == "test"]
    if not rows:
        raise ValueError("nothing to evaluate")
    limit = threshold if threshold is not None else m.threshold(art)
    ranks = m.rank_many([r.text for r in rows], art, top=3)
    best = [rk[0][0] for rk in ranks]
    hits = [b == r.category for b, r in zip(best, rows, strict=True)]
    auto = [rk[0][1] >= limit for rk in ranks]
    auto_hits = [h for h, a in zip(hits, auto, strict=True) if a]

    truth = Counter(r.category for r in rows)
    predicted = Counter(best)
    right = Counter(r.category for r, h in zip(rows, hits, strict=True) if h)
    per_category = [
        CategoryScore(
            code=code,
            support=truth[code],
            precision=right[code] / predicted[code] if predicted[code] else 0.0,
            recall=right[code] / truth[code] if truth[code] else 0.0,
        )
        for code in sorted(set(truth) | set(predicted))
    ]
    styles = Counter(r.style for r in rows)
    style_right = Counter(r.style for r, h in zip(rows, hits, strict=True) if h)
    return Evaluation(
        model_version=art.version,
        threshold=limit,
        n=len(rows),
        accuracy=sum(hits) / len(rows),
        auto_rate=sum(auto) / len(rows),
        auto_accuracy=sum(auto_hits) / len(auto_hits) if auto_hits else 0.0,
        top3=sum(r.category in {c for c, _ in rk} for r, rk in zip(rows, ranks, strict=True)) / len(rows),
        per_category=per_category,
        by_style={s: style_right[s] / n for s, n in sorted(styles.items())},
    )


def print_evaluation(ev: Evaluation, names: dict[str, str] | None = None) -> None:
    """A readable table (rich): the summary with the acceptance, then precision and recall per category."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    summary = Table(
        "measure", "value", "acceptance", title=f"model {ev.model_version} on {ev.n} held-out reports"
    )

    def mark(ok: bool) -> str:
        return "[green]ok[/green]" if ok else "[red]FAIL[/red]"

    summary.add_row("threshold", f"{ev.threshold:.3f}", "")
    summary.add_row("accuracy (top-1)", f"{ev.accuracy:.1%}", "")
    summary.add_row(
        "auto-dispatch rate",
        f"{ev.auto_rate:.1%}",
        f"≥ {MIN_AUTO_RATE:.0%} {mark(ev.auto_rate >= MIN_AUTO_RATE)}",
    )
    summary.add_row(
        "auto-dispatched correct",
        f"{ev.auto_accuracy:.1%}",
        f"≥ {MIN_AUTO_ACCURACY:.0%} {mark(ev.auto_accuracy >= MIN_AUTO_ACCURACY)}",
    )
    summary.add_row("top-3 hit rate", f"{ev.top3:.1%}", f"≥ {MIN_TOP3:.0%} {mark(ev.top3 >= MIN_TOP3)}")
    for style, acc in ev.by_style.items():
        summary.add_row(f"accuracy, {style}", f"{acc:.1%}", "")
    console.print(summary)

    table = Table("code", "category", "n", "precision", "recall", title="per category")
    for s in ev.per_category:
        table.add_row(
            s.code, (names or {}).get(s.code, ""), str(s.support), f"{s.precision:.2f}", f"{s.recall:.2f}"
        )
    console.print(table)
    console.print(
        "[green]acceptance met[/green]" if ev.accepted else "[red]" + "; ".join(ev.failures()) + "[/red]"
    )
