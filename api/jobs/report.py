"""Per-city summaries of a bulk job, as JSON and as an HTML page with charts (inline SVG, no CDN).

The table an analyst would put into an index report's collaborative-partnership
section: projects per partnership model and their share, leading stakeholders
and roles, test-bed projects, international collaboration, and the documents
to review first.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from classifier.taxonomy import INTERNATIONAL_LEVELS, LABELS, label_name

__all__ = ["build_report", "render_html", "write_report"]

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
COLORS = {"A": "#1f77b4", "B": "#2ca02c", "C": "#ff7f0e", "D": "#9467bd", "E": "#d62728"}
UNKNOWN_CITY = "(no city given)"
REVIEW_FIRST = 50


def _margin(p: dict) -> float:
    top = sorted(p["probabilities"].values(), reverse=True)
    return top[0] - (top[1] if len(top) > 1 else 0.0)


def _city_summary(rows: list[dict]) -> dict:
    labels = Counter(r["label"] for r in rows)
    n = len(rows)
    stakeholders: Counter[tuple[str, str, str]] = Counter()
    for r in rows:
        seen = set()
        for s in r.get("stakeholders", []):
            key = (s.get("name") or s.get("text") or "", s.get("type", ""), s.get("role", ""))
            if key[0] and key not in seen:
                stakeholders[key] += 1
                seen.add(key)
    international = Counter(r.get("international") or "unknown" for r in rows)
    level = (
        max(INTERNATIONAL_LEVELS, key=lambda x: (international[x], INTERNATIONAL_LEVELS.index(x))) if rows else "none"
    )
    roles = Counter(s.get("role", "") for r in rows for s in r.get("stakeholders", []))
    types = Counter(s.get("type", "") for r in rows for s in r.get("stakeholders", []))
    return {
        "country": Counter(r.get("country", "") for r in rows).most_common(1)[0][0] if rows else "",
        "documents": n,
        "models": {
            label: {
                "name": label_name(label),
                "count": labels[label],
                "share": round(labels[label] / n, 4) if n else 0.0,
            }
            for label in LABELS
        },
        "dominant_model": labels.most_common(1)[0][0] if labels else None,
        "needs_review": sum(bool(r["needs_review"]) for r in rows),
        "testbed_projects": sum(bool(r.get("testbed")) for r in rows),
        "international": {k: international[k] for k in INTERNATIONAL_LEVELS},
        "international_level": level,
        "leading_stakeholders": [
            {"name": name, "type": stype, "role": role, "documents": count}
            for (name, stype, role), count in stakeholders.most_common(8)
        ],
        "stakeholder_types": dict(types.most_common()),
        "stakeholder_roles": dict(roles.most_common()),
    }


def build_report(predictions: list[dict], errors: list[dict]) -> dict:
    """The report as plain data: per city, overall, the review-first list and the errors."""
    by_city: dict[str, list[dict]] = defaultdict(list)
    for p in predictions:
        by_city[p.get("city") or UNKNOWN_CITY].append(p)
    review = sorted((p for p in predictions if p["needs_review"]), key=_margin)[:REVIEW_FIRST]
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_versions": sorted({p["model_version"] for p in predictions}),
        "documents": len(predictions),
        "errors": len(errors),
        "overall": _city_summary(predictions),
        "cities": {city: _city_summary(rows) for city, rows in sorted(by_city.items())},
        "review_first": [
            {
                "id": p["id"],
                "city": p.get("city", ""),
                "label": p["label"],
                "confidence": p["confidence"],
                "margin": round(_margin(p), 4),
                "source": p.get("source", ""),
            }
            for p in review
        ],
        "error_list": errors[:200],
    }


def _chart(report: dict, width: int = 720, bar: int = 18) -> dict:
    """Geometry of a stacked horizontal bar chart of model shares per city, for the template."""
    label_width, gap = 170, 6
    bars = []
    for i, (city, summary) in enumerate(report["cities"].items()):
        x, segments = label_width, []
        for label in LABELS:
            share = summary["models"][label]["share"]
            w = share * (width - label_width - 10)
            if w > 0:
                segments.append(
                    {"x": round(x, 1), "w": round(w, 1), "color": COLORS[label], "label": label, "share": share}
                )
            x += w
        bars.append({"city": city, "y": 24 + i * (bar + gap), "segments": segments, "documents": summary["documents"]})
    return {
        "width": width,
        "height": 34 + len(bars) * (bar + gap),
        "bar": bar,
        "bars": bars,
        "label_width": label_width,
    }


def render_html(report: dict) -> str:
    """The report page (autoescaped; every style and chart inline, nothing loaded from the internet)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    template = env.get_template("bulk_report.html")
    legend = [{"label": label, "name": label_name(label), "color": COLORS[label]} for label in LABELS]
    return template.render(report=report, chart=_chart(report), legend=legend, labels=LABELS)


def write_report(report: dict, output: Path) -> tuple[Path, Path]:
    """Write report.json and report.html atomically; returns their paths."""
    html_path, json_path = output / "report.html", output / "report.json"
    for path, content in (
        (json_path, json.dumps(report, indent=2, ensure_ascii=False)),
        (html_path, render_html(report)),
    ):
        tmp = path.with_suffix(".tmp")
        tmp.write_text(content, encoding="utf-8")
        os.replace(tmp, path)
    return html_path, json_path
