"""The final metrics table: the trained encoder against the baselines, as text or HTML rows."""

from __future__ import annotations

import html

ORDER = ("knn_accuracy", "linear_probe_accuracy", "alignment", "uniformity", "effective_rank")
NOTES = {
    "knn_accuracy": "higher is better",
    "linear_probe_accuracy": "higher is better",
    "alignment": "lower is better",
    "uniformity": "lower is better",
    "effective_rank": "higher = less collapse",
}


SELECTION = "selection.json"  # a run's selected and last step (written by the runner)


def table_rows(final: dict, baselines: dict, trained: dict | None = None) -> tuple[list, list]:
    """``trained``: ``{column: metrics}`` of the trained model (default ``{"trained encoder": final}``),
    e.g. the selected checkpoint and the last step."""
    trained = trained or {"trained encoder": final}
    columns = [*baselines, *trained]
    results = [*baselines.values(), *trained.values()]
    names = [k for k in ORDER if any(k in r for r in results)]
    names += sorted({k for r in results for k in r} - set(names))
    rows = []
    for name in names:
        cells = [f"{r[name]:.4f}" if isinstance(r.get(name), int | float) else "-" for r in results]
        rows.append([name, *cells, NOTES.get(name, "")])
    return ["metric", *columns, ""], rows


def format_table(final: dict, baselines: dict, trained: dict | None = None) -> str:
    header, rows = table_rows(final, baselines, trained)
    widths = [max(len(str(line[i])) for line in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(
            str(c).ljust(w) if i in (0, len(cells) - 1) else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def html_table(final: dict, baselines: dict, trained: dict | None = None) -> str:
    header, rows = table_rows(final, baselines, trained)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def trained_columns(final: dict, record: dict | None) -> dict[str, dict]:
    """The trained columns of the final table: the selected checkpoint named by its step, and the
    last step too when selection picked an earlier one."""
    if not record:
        return {"trained encoder": final}
    selected, last = record["selected_step"], record["last_step"]
    if selected == last:
        return {f"trained encoder (step {last})": final}
    return {f"trained encoder (step {selected}, best {record['metric']})": final,
            f"last step ({last})": record.get("last", {})}
