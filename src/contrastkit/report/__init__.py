"""Run reports: PNG plots and one self-contained HTML page, and the final metrics table."""

from .page import make_plots, write_report
from .table import format_table, html_table

__all__ = ["format_table", "html_table", "make_plots", "write_report"]
