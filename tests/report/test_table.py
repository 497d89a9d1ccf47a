"""The metrics table: one row per metric, baselines first, trained encoder last."""

from contrastkit.report import format_table, html_table


def test_text_and_html_tables_hold_every_value():
    final = {"knn_accuracy": 0.98765, "uniformity": -2.0, "extra": 1.5}
    baselines = {
        "raw input": {"knn_accuracy": 0.9, "uniformity": -1.0},
        "untrained encoder": {"knn_accuracy": 0.5},
    }
    text = format_table(final, baselines).splitlines()
    assert text[0].split()[:7] == ["metric", "raw", "input", "untrained", "encoder", "trained", "encoder"]
    rows = {line.split()[0]: line.split()[1:] for line in text[2:]}
    assert list(rows) == ["knn_accuracy", "uniformity", "extra"]  # known metrics first, in their order
    assert rows["knn_accuracy"][:3] == ["0.9000", "0.5000", "0.9877"]
    assert rows["uniformity"][:3] == ["-1.0000", "-", "-2.0000"]
    page = html_table(final, baselines)
    assert page.count("<tr>") == 4 and "<td>0.9877</td>" in page
