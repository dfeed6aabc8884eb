"""The MNIST-family datasets: their files, published checksums, mirrors and metadata.

Pure data, no I/O. Archive MD5s are the authors' published ones; content SHA-256s are of
the decompressed IDX bytes, so a recompressed copy of the same data can be recognised.

>>> SPECS["fashion_mnist"].class_names[9]
'Ankle boot'
>>> SPECS["mnist"].files["test_images"].filename
't10k-images-idx3-ubyte.gz'
>>> [c.name for c in SPECS["qmnist"].metadata][:2]
['hsf_series', 'writer_id']
>>> SPECS["emnist_letters"].members["train_labels"]
'gzip/emnist-letters-train-labels-idx1-ubyte.gz'
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("train_images", "train_labels", "test_images", "test_labels")
COMPRESSIONS = (".gz", ".xz")  # how IDX files are published; idx.py reads both and raw files


@dataclass(frozen=True)
class FileSpec:
    """One published file: an IDX archive (gzip or xz) or a zip of them. ``size`` None: not recorded."""

    role: str
    filename: str
    size: int | None
    md5: str
    content_sha256: str | None = None

    @property
    def local_names(self) -> tuple[str, ...]:
        """Names a local copy may have: the archive, the raw file, and the dotted variant."""
        suffix = next((c for c in COMPRESSIONS if self.filename.endswith(c)), "")
        if not suffix:
            return (self.filename,)
        raw = self.filename.removesuffix(suffix)
        dotted = raw.replace("-idx", ".idx")
        return tuple(dict.fromkeys((self.filename, raw, dotted + suffix, dotted)))


@dataclass(frozen=True)
class MetadataColumn:
    """One column of a multi-column label file (QMNIST's), exposed as an int32 feature."""

    index: int  # column of the label file (column 0 is the class)
    name: str
    description: str


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the builder needs to know about one dataset of the family."""

    name: str
    description: str
    homepage: str
    license: str
    citation: str
    class_names: tuple[str, ...]
    files: dict[str, FileSpec]
    mirrors: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()
    image_shape: tuple[int, int] = (28, 28)
    split_sizes: dict[str, int] = field(default_factory=lambda: {"train": 60000, "test": 10000})
    # The published parts: each has ``{part}_images`` and ``{part}_labels`` (files or members).
    parts: tuple[str, ...] = ("train", "test")
    # Extra named splits that are a row range of a part: ``{split: (part, start, stop)}``.
    views: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    # Label files with more than one column (QMNIST: 8) and the columns kept as features.
    label_width: int = 1
    metadata: tuple[MetadataColumn, ...] = ()
    # Stored label = class index + label_offset (EMNIST letters: 1..26).
    label_offset: int = 0
    # Images stored column-major (EMNIST): transposed on reading, so rows come out upright.
    transposed: bool = False
    # IDX files inside the one archive ``files["archive"]``: ``{role: member name}``.
    members: dict[str, str] = field(default_factory=dict)

    def content_limit(self, role: str) -> int | None:
        """The most bytes the IDX file of ``role`` can hold decompressed at the published row count.

        Parameters
        ----------
        role : str
            ``"{part}_images"`` or ``"{part}_labels"`` (or ``"archive"``).

        Returns
        -------
        int or None
            Header included (at its largest); None for a role that is no IDX file (EMNIST's archive).

        Examples
        --------
        >>> MNIST.content_limit("train_images")
        47040016
        """
        part, _, kind = role.rpartition("_")
        if part not in self.split_sizes:
            return None
        row = self.image_shape[0] * self.image_shape[1] if kind == "images" else 4 * self.label_width
        return 4 + 4 * 3 + self.split_sizes[part] * row


def _files(rows: list[tuple[str, str, int, str, str | None]]) -> dict[str, FileSpec]:
    return {role: FileSpec(role, name, size, md5, sha) for role, name, size, md5, sha in rows}


MNIST = DatasetSpec(
    name="mnist",
    description=(
        "The MNIST database of handwritten digits: 70,000 28x28 grayscale images of the "
        "digits 0-9, 60,000 for training and 10,000 for testing, written by Census Bureau "
        "employees and high-school students (NIST Special Databases 1 and 3)."
    ),
    homepage="http://yann.lecun.com/exdb/mnist/",
    license="cc-by-sa-3.0",
    citation="""@article{lecun1998gradient,
  title={Gradient-based learning applied to document recognition},
  author={LeCun, Yann and Bottou, L{\\'e}on and Bengio, Yoshua and Haffner, Patrick},
  journal={Proceedings of the IEEE},
  volume={86}, number={11}, pages={2278--2324}, year={1998}
}""",
    class_names=tuple(str(d) for d in range(10)),
    files=_files(
        [
            ("train_images", "train-images-idx3-ubyte.gz", 9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873", None),
            ("train_labels", "train-labels-idx1-ubyte.gz", 28881, "d53e105ee54ea40749a09fcbcd1e9432",
             "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
            ("test_images", "t10k-images-idx3-ubyte.gz", 1648877, "9fb629c4189551a2d022fa330f9573f3",
             "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
            ("test_labels", "t10k-labels-idx1-ubyte.gz", 4542, "ec29112dd5afa0611ce80d1b7f02629c",
             "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        ]
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    system_dirs=("/usr/share/datasets/mnist",),
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    description=(
        "Fashion-MNIST: Zalando's article images, 70,000 28x28 grayscale images in 10 "
        "classes (60,000 training, 10,000 test), a drop-in replacement for MNIST with the "
        "same format, image size and split sizes."
    ),
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    license="mit",
    citation="""@article{xiao2017fashion,
  title={Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning Algorithms},
  author={Xiao, Han and Rasul, Kashif and Vollgraf, Roland},
  journal={arXiv preprint arXiv:1708.07747},
  year={2017}
}""",
    class_names=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
    files=_files(
        [
            ("train_images", "train-images-idx3-ubyte.gz", 26421880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
             "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            ("train_labels", "train-labels-idx1-ubyte.gz", 29515, "25c81989df183df01b3e8a0aad5dffbe",
             "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
            ("test_images", "t10k-images-idx3-ubyte.gz", 4422102, "bef4ecab320f06d8554ea6380940ec79",
             "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
            ("test_labels", "t10k-labels-idx1-ubyte.gz", 5148, "bb300cfdad3c16e7a12a480ee83cd310",
             "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        ]
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)

KMNIST = DatasetSpec(
    name="kmnist",
    description=(
        "Kuzushiji-MNIST: 70,000 28x28 grayscale images of ten classes of cursive Japanese "
        "(Kuzushiji) hiragana characters, in MNIST's format and split sizes."
    ),
    homepage="https://github.com/rois-codh/kmnist",
    license="cc-by-sa-4.0",
    citation="""@online{clanuwat2018deep,
  author={Tarin Clanuwat and Mikel Bober-Irizar and Asanobu Kitamoto and Alex Lamb and Kazuaki Yamamoto and David Ha},
  title={Deep Learning for Classical Japanese Literature},
  date={2018-12-03},
  year={2018},
  eprintclass={cs.CV},
  eprinttype={arXiv},
  eprint={cs.CV/1812.01718}
}""",
    class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    files=_files(
        [
            ("train_images", "train-images-idx3-ubyte.gz", 18165135, "bdb82020997e1d708af4cf47b453dcf7", None),
            ("train_labels", "train-labels-idx1-ubyte.gz", 29497, "e144d726b3acfaa3e44228e80efcd344", None),
            ("test_images", "t10k-images-idx3-ubyte.gz", 3041136, "5c965bf0a639b31b8f53240b1b52f4d7", None),
            ("test_labels", "t10k-labels-idx1-ubyte.gz", 5120, "7320c461ea6c1c855c0b718fb2a4b134", None),
        ]
    ),
    mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
    system_dirs=("/usr/share/datasets/kmnist",),
)

_QMNIST_HOME = "https://github.com/facebookresearch/qmnist"
_QMNIST_CITATION = """@inproceedings{yadav2019cold,
  title={Cold Case: The Lost MNIST Digits},
  author={Yadav, Chhavi and Bottou, L{\\'e}on},
  booktitle={Advances in Neural Information Processing Systems 32},
  year={2019}
}"""
# The QMNIST README, section 2.2: the eight int32 columns of its label files. Column 0 is the
# class; column 7 is unused (always 0) and dropped.
QMNIST_METADATA = (
    MetadataColumn(1, "hsf_series", "NIST HSF series (0, 1: Census Bureau employees; 4: high-school students)"),
    MetadataColumn(2, "writer_id", "NIST writer ID (0-610: HSF 0/1 employees; 2100-2599: HSF 4 students)"),
    MetadataColumn(3, "writer_digit_index", "index of this digit among its writer's digits (0-149)"),
    MetadataColumn(4, "nist_class_code", "NIST class code (30-39: ASCII code of the digit, in hex)"),
    MetadataColumn(5, "nist_index", "global index of the digit in NIST Special Database 19 (0-281769)"),
    MetadataColumn(6, "duplicate", "0, or in the nist files the index of the digit this one duplicates"),
)
QMNIST_MIRRORS = ("https://raw.githubusercontent.com/facebookresearch/qmnist/master/",)

QMNIST = DatasetSpec(
    name="qmnist",
    description=(
        "QMNIST: MNIST reconstructed from NIST Special Database 19, with each digit's NIST writer, "
        "HSF series and index. 60,000 training images (MNIST's training set) and 60,000 test images: "
        "the first 10,000 (`test10k`) reconstruct MNIST's test set, the other 50,000 (`test50k`) are "
        "the MNIST test digits that were never published. HSF series 0/1 were written by Census "
        "Bureau employees, series 4 by high-school students: a documented population shift."
    ),
    homepage=_QMNIST_HOME,
    license="bsd-3-clause",
    citation=_QMNIST_CITATION,
    class_names=tuple(str(d) for d in range(10)),
    files=_files(
        [
            ("train_images", "qmnist-train-images-idx3-ubyte.gz", None, "ed72d4157d28c017586c42bc6afe6370", None),
            ("train_labels", "qmnist-train-labels-idx2-int.gz", None, "0058f8dd561b90ffdd0f734c6a30e5e4", None),
            ("test_images", "qmnist-test-images-idx3-ubyte.gz", None, "1394631089c404de565df7b7aeaf9412", None),
            ("test_labels", "qmnist-test-labels-idx2-int.gz", None, "5b5b05890a5e13444e108efe57b788aa", None),
        ]
    ),
    mirrors=QMNIST_MIRRORS,
    split_sizes={"train": 60000, "test": 60000, "test10k": 10000, "test50k": 50000},
    views={"test10k": ("test", 0, 10000), "test50k": ("test", 10000, 60000)},
    label_width=8,
    metadata=QMNIST_METADATA,
)

NIST = DatasetSpec(
    name="nist",
    description=(
        "QMNIST's `nist` files: all 402,953 digits of NIST Special Database 19 (HSF series 0-4) in "
        "MNIST's 28x28 format, with QMNIST's writer metadata; one split, `train`."
    ),
    homepage=_QMNIST_HOME,
    license="bsd-3-clause",
    citation=_QMNIST_CITATION,
    class_names=tuple(str(d) for d in range(10)),
    files=_files(
        [
            ("train_images", "xnist-images-idx3-ubyte.xz", None, "7f124b3b8ab81486c9d8c2749c17f834", None),
            ("train_labels", "xnist-labels-idx2-int.xz", None, "5ed0e788978e45d4a8bd4b7caec3d79d", None),
        ]
    ),
    mirrors=QMNIST_MIRRORS,
    split_sizes={"train": 402953},
    parts=("train",),
    label_width=8,
    metadata=QMNIST_METADATA,
)

_EMNIST_CITATION = """@inproceedings{cohen2017emnist,
  title={EMNIST: Extending MNIST to handwritten letters},
  author={Cohen, Gregory and Afshar, Saeed and Tapson, Jonathan and van Schaik, Andr{\\'e}},
  booktitle={2017 International Joint Conference on Neural Networks (IJCNN)},
  pages={2921--2926},
  year={2017}
}"""
EMNIST_ARCHIVE = FileSpec("archive", "gzip.zip", None, "58c8d27c78d21e728a6bc7b3cc06412e")
_DIGITS = tuple("0123456789")
_UPPER = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER = tuple("abcdefghijklmnopqrstuvwxyz")
# bymerge and balanced merge the 15 lower-case letters that look like their capitals.
_MERGED = tuple(c for c in _LOWER if c not in "cijklmopsuvwxyz")
# (split, class names, label offset, train rows, test rows), as Cohen et al. (2017) publish them.
_EMNIST_SPLITS = (
    ("byclass", _DIGITS + _UPPER + _LOWER, 0, 697932, 116323),
    ("bymerge", _DIGITS + _UPPER + _MERGED, 0, 697932, 116323),
    ("balanced", _DIGITS + _UPPER + _MERGED, 0, 112800, 18800),
    ("letters", _LOWER, 1, 124800, 20800),
    ("digits", _DIGITS, 0, 240000, 40000),
    ("mnist", _DIGITS, 0, 60000, 10000),
)


def _emnist(split: str, class_names: tuple[str, ...], offset: int, n_train: int, n_test: int) -> DatasetSpec:
    letters = " Its labels 1-26 are stored as classes 0-25 (`a`-`z`, upper and lower case merged)." if offset else ""
    return DatasetSpec(
        name=f"emnist_{split}",
        description=(
            f"EMNIST {split}: handwritten characters from NIST Special Database 19 converted to MNIST's "
            f"28x28 format, {len(class_names)} classes, {n_train:,} training and {n_test:,} test images.{letters}"
        ),
        homepage="https://www.nist.gov/itl/products-and-services/emnist-dataset",
        license="other",  # NIST: public domain (a work of the US government); see the homepage
        citation=_EMNIST_CITATION,
        class_names=class_names,
        files={"archive": EMNIST_ARCHIVE},
        mirrors=(
            "https://biometrics.nist.gov/cs_links/EMNIST/",
            "https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/",
        ),
        split_sizes={"train": n_train, "test": n_test},
        label_offset=offset,
        transposed=True,
        members={
            f"{part}_{kind}": f"gzip/emnist-{split}-{part}-{kind}-idx{1 if kind == 'labels' else 3}-ubyte.gz"
            for part in ("train", "test") for kind in ("images", "labels")
        },
    )


EMNIST = tuple(_emnist(*row) for row in _EMNIST_SPLITS)

SPECS: dict[str, DatasetSpec] = {s.name: s for s in (MNIST, FASHION_MNIST, KMNIST, QMNIST, NIST, *EMNIST)}
