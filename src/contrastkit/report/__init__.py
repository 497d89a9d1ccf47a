"""Run reports: PNG plots and one self-contained HTML page, and the final metrics table."""

from .page import make_plots, write_report
from .table import format_table, html_table
from .two_tower import confusion_matrix_plot, temperature_curve, top_hits, top_hits_grid

__all__ = ["confusion_matrix_plot", "format_table", "html_table", "make_plots", "temperature_curve",
           "top_hits", "top_hits_grid", "write_report"]
