"""The MNIST-family datasets: their files, published checksums, mirrors and metadata.

Pure data, no I/O. Archive MD5s are the authors' published ones; content SHA-256s are of
the decompressed IDX bytes, so a recompressed copy of the same data can be recognised.

>>> SPECS["fashion_mnist"].class_names[9]
'Ankle boot'
>>> SPECS["mnist"].files["test_images"].filename
't10k-images-idx3-ubyte.gz'
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class FileSpec:
    """One published IDX archive."""

    role: str
    filename: str
    size: int
    md5: str
    content_sha256: str | None = None

    @property
    def local_names(self) -> tuple[str, ...]:
        """Names a local copy may have: the archive, the raw file, and the dotted variant."""
        raw = self.filename.removesuffix(".gz")
        dotted = raw.replace("-idx", ".idx")
        return tuple(dict.fromkeys((self.filename, raw, dotted + ".gz", dotted)))


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

SPECS: dict[str, DatasetSpec] = {s.name: s for s in (MNIST, FASHION_MNIST, KMNIST)}
