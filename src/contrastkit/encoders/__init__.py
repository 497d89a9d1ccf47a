"""contrastkit.encoders (see DESIGN.md section 2)."""

__all__: list[str] = []
