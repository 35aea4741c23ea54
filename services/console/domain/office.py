"""The office's figures: the county map (a tile map of the city's 14 counties, shaded by a chosen
figure), the assessment's composite score and its CSV. Pure: the county names come in from the
reference data, the figures from routing's read-outs."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Sequence

#: tile positions (column, row) roughly as the counties lie, north at the top (GB/T 2260 codes)
TILES: dict[str, tuple[int, int]] = {
    "610428": (0, 0), "610482": (1, 0), "610429": (2, 0),                      # 长武 彬州 旬邑
    "610426": (1, 1), "610430": (3, 1),                                        # 永寿 淳化
    "610424": (1, 2), "610425": (2, 2), "610423": (3, 2), "610422": (4, 2),    # 乾县 礼泉 泾阳 三原
    "610403": (0, 3), "610431": (1, 3), "610481": (2, 3), "610402": (3, 3), "610404": (4, 3),  # 杨陵 武功 兴平 秦都 渭城
}
TILE_W, TILE_H, GAP = 120, 72, 6
#: a sequential palette, light to dark (colour-blind safe, ColorBrewer "Oranges"); text turns white on the two darkest
PALETTE = ("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")
Figure = Literal["open", "total", "breached", "approaching", "score"]
FIGURES: tuple[Figure, ...] = ("open", "total", "breached", "approaching", "score")
#: the assessment's composite: weights of answered in time, no breach, closed (sum 1)
WEIGHTS = {"in_time": 0.4, "no_breach": 0.4, "closed": 0.2}


@dataclass(frozen=True)
class Tile:
    code: str
    name: str
    x: int
    y: int
    value: float | None
    fill: str
    dark: bool


def pick_figure(value: str | None) -> Figure:
    return value if value in FIGURES else "open"  # type: ignore[return-value]


def shade(value: float | None, top: float) -> int:
    """The palette step (0-4) of a value against the largest; None and 0 are the lightest."""
    if value is None or top <= 0 or value <= 0:
        return 0
    return min(len(PALETTE) - 1, 1 + int((value / top) * (len(PALETTE) - 1) - 1e-9))


def county_map(values: Mapping[str, float | None], names: Mapping[str, str]) -> list[Tile]:
    """The 14 tiles with their value and fill. A county without a value is shown empty (lightest)."""
    present = [v for v in values.values() if v is not None]
    top = max(present) if present else 0.0
    tiles = []
    for code, (col, row) in TILES.items():
        v = values.get(code)
        step = shade(v, top)
        tiles.append(Tile(code, names.get(code, code), GAP + col * (TILE_W + GAP), GAP + row * (TILE_H + GAP), v,
                          PALETTE[step], step >= 3))
    return tiles


def map_size() -> tuple[int, int]:
    cols = 1 + max(c for c, _ in TILES.values())
    rows = 1 + max(r for _, r in TILES.values())
    return GAP + cols * (TILE_W + GAP), GAP + rows * (TILE_H + GAP)


def county_figures(overview: Mapping[str, Any], figure: Figure,
                   scores: Mapping[str, float | None] | None = None) -> dict[str, float | None]:
    """One figure per county from routing's overview (or the assessment's scores)."""
    if figure == "score":
        return dict(scores or {})
    if figure in ("open", "total"):
        return {c["key"]: float(c[figure]) for c in overview.get("cases_by_county", [])}
    return {d["county"]: float(d[figure]) for d in overview.get("deadlines_by_county", [])}


def ratio(part: int, whole: int) -> float | None:
    return None if whole <= 0 else part / whole


def score(row: Mapping[str, Any]) -> float | None:
    """The composite (0-100) of one assessment row: answered in time, cases without a breach, closed,
    each as a share of the cases opened; None when none was opened."""
    opened = int(row.get("opened") or 0)
    if opened <= 0:
        return None
    in_time = int(row["answered_in_time"]) / opened
    no_breach = 1 - int(row["cases_breached"]) / opened
    closed = int(row["closed"]) / opened
    return round(100 * (WEIGHTS["in_time"] * in_time + WEIGHTS["no_breach"] * no_breach + WEIGHTS["closed"] * closed), 1)


def assessed(rows: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Rows with their name, rates and score, best score first (no cases last)."""
    out = []
    for r in rows:
        opened = int(r["opened"])
        out.append({**r, "name": names.get(r["key"], r["key"]), "in_time_rate": ratio(int(r["answered_in_time"]), opened),
                    "breach_rate": ratio(int(r["cases_breached"]), opened), "closed_rate": ratio(int(r["closed"]), opened),
                    "score": score(r)})
    return sorted(out, key=lambda r: (r["score"] is None, -(r["score"] or 0), r["key"]))


CSV_COLUMNS: tuple[str, ...] = ("scope", "key", "name", "opened", "answered", "answered_in_time", "refused", "closed",
                                "deadlines_breached", "cases_breached", "mean_answer_hours", "in_time_rate",
                                "breach_rate", "closed_rate", "score")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    text = str(value)
    # a spreadsheet must not run a cell as a formula (CSV injection)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def assessment_csv(by_county: Sequence[Mapping[str, Any]], by_bureau: Sequence[Mapping[str, Any]],
                   header: Sequence[str] = CSV_COLUMNS) -> str:
    """The assessment as CSV (UTF-8 with BOM so spreadsheets read the Chinese names), counties then bureaus."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for scope, rows in (("county", by_county), ("bureau", by_bureau)):
        for r in rows:
            w.writerow([scope if c == "scope" else _cell(r.get(c)) for c in CSV_COLUMNS])
    return "\ufeff" + buf.getvalue()
