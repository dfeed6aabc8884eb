"""The dataset table built afresh at test time, checked against the published truth; and the
decompressed-size limits (``DatasetSpec.content_limit``) the decompression-bomb guard relies on.

``SPECS`` is built when ``mnist_hf.sources`` is first imported (``_files`` and ``_emnist`` run then).
Here a second, unregistered copy of the module is executed inside each test, so the table these
tests check is the one the current code builds now (under mutation testing: with the mutant
active), not one built once at import. The truth (class lists, file names and checksums) comes
from tests/test_truth.py; the other published facts are written out here.
"""

import importlib.util
import sys

import pytest
from test_truth import CLASS_NAMES, FILES

import mnist_hf.sources
from mnist_hf.sources import SPECS, DatasetSpec


def _fresh_sources():
    """mnist_hf/sources.py executed again as a new module object (not put in sys.modules)."""
    spec = importlib.util.spec_from_file_location("mnist_hf.sources", mnist_hf.sources.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fresh():
    return _fresh_sources()


def test_the_table_is_built_afresh_without_replacing_the_imported_module(fresh):
    assert fresh is not mnist_hf.sources and sys.modules["mnist_hf.sources"] is mnist_hf.sources
    assert fresh.__name__ == "mnist_hf.sources"
    assert fresh.SPECS is not SPECS and fresh.SPECS["emnist_letters"] is not SPECS["emnist_letters"]


def test_a_fresh_table_has_every_configuration_under_its_own_name(fresh):
    assert set(fresh.SPECS) == set(CLASS_NAMES) == set(FILES)
    assert {key: spec.name for key, spec in fresh.SPECS.items()} == {key: key for key in CLASS_NAMES}


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_a_fresh_table_has_the_published_class_names(fresh, name):
    assert fresh.SPECS[name].class_names == CLASS_NAMES[name]


@pytest.mark.parametrize("name", FILES)
def test_a_fresh_table_records_the_published_files_each_under_its_role(fresh, name):
    recorded = {
        role: (f.role, f.filename, ... if FILES[name][role][1] is ... else f.size, f.md5, f.content_sha256)
        for role, f in fresh.SPECS[name].files.items()
    }
    assert recorded == {role: (role, *published) for role, published in FILES[name].items()}


def test_recorded_sizes_and_content_checksums_are_kept_where_published(fresh):
    # The byte sizes on the MNIST page and the content SHA-256 of t10k-labels: values, not None.
    files = fresh.SPECS["mnist"].files
    assert [files[r].size for r in ("train_images", "train_labels", "test_images", "test_labels")] == [
        9912422, 28881, 1648877, 4542]
    assert files["test_labels"].content_sha256 == "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    assert files["train_images"].content_sha256 is None  # not recorded (see the README's table)


# --- EMNIST (Cohen et al. 2017) ------------------------------------------------------------------

# Table II of Cohen et al. (2017) "EMNIST: an extension of MNIST to handwritten letters": the
# training and test rows of each split, and the label offset (letters: labels 1-26).
EMNIST_ROWS = {
    "byclass": (697932, 116323),
    "bymerge": (697932, 116323),
    "balanced": (112800, 18800),
    "letters": (124800, 20800),
    "digits": (240000, 40000),
    "mnist": (60000, 10000),
}
EMNIST_LABEL_OFFSETS = {"byclass": 0, "bymerge": 0, "balanced": 0, "letters": 1, "digits": 0, "mnist": 0}
# The IDX files inside NIST's gzip.zip, as the archive lists them (labels are idx1, images idx3).
EMNIST_MEMBERS = {
    split: {
        "train_images": f"gzip/emnist-{split}-train-images-idx3-ubyte.gz",
        "train_labels": f"gzip/emnist-{split}-train-labels-idx1-ubyte.gz",
        "test_images": f"gzip/emnist-{split}-test-images-idx3-ubyte.gz",
        "test_labels": f"gzip/emnist-{split}-test-labels-idx1-ubyte.gz",
    }
    for split in EMNIST_ROWS
}
EMNIST_HOMEPAGE = "https://www.nist.gov/itl/products-and-services/emnist-dataset"
# Where gzip.zip is published (torchvision's EMNIST.url, old and current).
EMNIST_URLS = {
    "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",
    "https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/gzip.zip",
}


@pytest.mark.parametrize("split", EMNIST_ROWS)
def test_a_fresh_emnist_configuration_has_the_published_row_counts_and_labels(fresh, split):
    spec = fresh.SPECS[f"emnist_{split}"]
    n_train, n_test = EMNIST_ROWS[split]
    assert spec.split_sizes == {"train": n_train, "test": n_test}
    assert spec.parts == ("train", "test") and spec.views == {}
    assert spec.label_offset == EMNIST_LABEL_OFFSETS[split]
    assert spec.transposed is True  # EMNIST stores its images column-major
    assert spec.image_shape == (28, 28) and spec.label_width == 1


@pytest.mark.parametrize("split", EMNIST_ROWS)
def test_a_fresh_emnist_configuration_reads_its_own_split_from_the_one_archive(fresh, split):
    spec = fresh.SPECS[f"emnist_{split}"]
    assert spec.members == EMNIST_MEMBERS[split]
    assert list(spec.files) == ["archive"]
    archive = spec.files["archive"]
    assert (archive.role, archive.filename, archive.md5) == ("archive", "gzip.zip", "58c8d27c78d21e728a6bc7b3cc06412e")
    assert {mirror + archive.filename for mirror in spec.mirrors} == EMNIST_URLS
    assert len(spec.mirrors) == len(EMNIST_URLS)


@pytest.mark.parametrize("split", EMNIST_ROWS)
def test_a_fresh_emnist_configuration_names_its_source_licence_and_paper(fresh, split):
    spec = fresh.SPECS[f"emnist_{split}"]
    assert spec.homepage == EMNIST_HOMEPAGE
    assert spec.license == "other"  # public domain (NIST): no Hub licence tag fits
    assert spec.citation.startswith("@inproceedings{cohen2017emnist,")
    assert "EMNIST: Extending MNIST to handwritten letters" in spec.citation
    assert "Cohen, Gregory" in spec.citation and "year={2017}" in spec.citation


@pytest.mark.parametrize("split", EMNIST_ROWS)
def test_a_fresh_emnist_description_states_its_split_classes_and_row_counts(fresh, split):
    description = fresh.SPECS[f"emnist_{split}"].description
    n_train, n_test = EMNIST_ROWS[split]
    assert description.startswith(f"EMNIST {split}: handwritten characters from NIST Special Database 19")
    assert f" {len(CLASS_NAMES['emnist_' + split])} classes, " in description
    assert f"{n_train:,} training and {n_test:,} test images." in description
    if EMNIST_LABEL_OFFSETS[split]:
        # The one split whose stored labels are not the class indices says so, as a sentence of its own.
        assert description.endswith(
            "test images. Its labels 1-26 are stored as classes 0-25 (`a`-`z`, upper and lower case merged).")
    else:
        assert description.endswith(" test images.")
        assert "labels 1-26" not in description


# --- content_limit: the decompressed size the bomb guard allows ----------------------------------

# Published rows per part (a view's rows too: QMNIST test10k / test50k), and the label file's
# columns (QMNIST's and NIST's label files hold 8 int32 columns).
ROWS = {
    "mnist": {"train": 60000, "test": 10000},
    "fashion_mnist": {"train": 60000, "test": 10000},
    "kmnist": {"train": 60000, "test": 10000},
    "qmnist": {"train": 60000, "test": 60000, "test10k": 10000, "test50k": 50000},
    "nist": {"train": 402953},
    **{f"emnist_{split}": {"train": n_train, "test": n_test} for split, (n_train, n_test) in EMNIST_ROWS.items()},
}
LABEL_COLUMNS = {"qmnist": 8, "nist": 8}
# The decompressed sizes of published IDX files: header (magic + 4 bytes per dimension) + data.
PUBLISHED_IDX_SIZES = {
    ("mnist", "train_images"): 47040016,  # train-images-idx3-ubyte: 16 + 60000 * 28 * 28
    ("mnist", "train_labels"): 60008,  # train-labels-idx1-ubyte: 8 + 60000
    ("mnist", "test_images"): 7840016,
    ("mnist", "test_labels"): 10008,
    ("qmnist", "train_labels"): 1920012,  # qmnist-train-labels-idx2-int: 12 + 60000 * 8 * 4
    ("qmnist", "test_images"): 47040016,
    ("nist", "train_images"): 315915168,  # xnist-images-idx3-ubyte: 16 + 402953 * 784
    ("nist", "train_labels"): 12894508,  # xnist-labels-idx2-int: 12 + 402953 * 32
    ("emnist_letters", "train_images"): 97843216,  # 16 + 124800 * 784
    ("emnist_letters", "train_labels"): 124808,
    ("emnist_byclass", "test_labels"): 116331,
}


def _limit_cases():
    for name, parts in ROWS.items():
        for part, rows in parts.items():
            # The largest IDX header (magic + three dimensions: 16 bytes), then the rows: 28 * 28
            # bytes of image, or 4 bytes (int32 at most) per label column.
            yield pytest.param(name, f"{part}_images", 16 + rows * 28 * 28, id=f"{name}-{part}_images")
            yield pytest.param(name, f"{part}_labels", 16 + rows * 4 * LABEL_COLUMNS.get(name, 1),
                               id=f"{name}-{part}_labels")


@pytest.mark.parametrize(("name", "role", "limit"), list(_limit_cases()))
def test_the_content_limit_is_the_largest_header_plus_the_published_rows(name, role, limit):
    assert SPECS[name].content_limit(role) == limit
    assert type(SPECS[name].content_limit(role)) is int


@pytest.mark.parametrize(("name", "role"), PUBLISHED_IDX_SIZES)
def test_every_published_idx_file_fits_its_content_limit(name, role):
    size = PUBLISHED_IDX_SIZES[(name, role)]
    limit = SPECS[name].content_limit(role)
    assert size <= limit
    if role.endswith("_images"):
        assert limit == size  # an image file has the largest header: the limit is exact


def test_the_documented_limits_of_mnist(fresh):
    assert [fresh.MNIST.content_limit(role) for role in fresh.ROLES] == [47040016, 240016, 7840016, 40016]


@pytest.mark.parametrize("name", [n for n in ROWS if n.startswith("emnist_")])
def test_the_emnist_archive_itself_has_no_content_limit(name):
    assert SPECS[name].content_limit("archive") is None


@pytest.mark.parametrize("role", ["valid_images", "test10k_labels", "images", "train", "", "train_images_labels"])
def test_a_role_of_no_published_part_has_no_content_limit(role):
    assert SPECS["mnist"].content_limit(role) is None


def _spec(**fields) -> DatasetSpec:
    return DatasetSpec(name="synthetic", description="", homepage="", license="", citation="",
                       class_names=("a", "b"), files={}, mirrors=(), **fields)


def test_the_content_limit_uses_both_image_dimensions():
    spec = _spec(image_shape=(3, 5), split_sizes={"train": 7})
    assert spec.content_limit("train_images") == 16 + 7 * 3 * 5
    assert _spec(image_shape=(5, 3), split_sizes={"train": 7}).content_limit("train_images") == 16 + 7 * 5 * 3


def test_the_content_limit_counts_four_bytes_per_label_column():
    assert _spec(label_width=3, split_sizes={"train": 7}).content_limit("train_labels") == 16 + 7 * 4 * 3
    assert _spec(label_width=1, split_sizes={"train": 7}).content_limit("train_labels") == 16 + 7 * 4


def test_a_part_name_may_contain_underscores():
    # The kind (images / labels) is what follows the last underscore; the part is all before it.
    spec = _spec(image_shape=(2, 2), split_sizes={"train": 10, "test_small": 3})
    assert spec.content_limit("test_small_images") == 16 + 3 * 4
    assert spec.content_limit("test_small_labels") == 16 + 3 * 4
    assert spec.content_limit("test_images") is None
