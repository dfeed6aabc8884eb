"""What sources.py records, pinned to the truth: the published class lists and checksums written
out in full here (not derived from sources.py), and every recorded checksum recomputed from the
real files in ../shared/data when they are there."""

import gzip
import hashlib
import lzma

import pytest
from helpers import SHARED_DATA

import mnist_hf
from mnist_hf.sources import SPECS

DIGITS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
UPPER = ("A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M",
         "N", "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z")
LOWER = ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
         "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z")

CLASS_NAMES = {
    # MNIST, QMNIST and NIST: the digits, label k is digit k (LeCun et al.; QMNIST README, section 2.2).
    "mnist": DIGITS,
    "qmnist": DIGITS,
    "nist": DIGITS,
    # Fashion-MNIST README, "Labels": 0 T-shirt/top, 1 Trouser, ..., 9 Ankle boot.
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    # KMNIST's kmnist_classmap.csv: U+304A o, U+304D ki, U+3059 su, U+3064 tsu, U+306A na, U+306F ha,
    # U+307E ma, U+3084 ya, U+308C re, U+3092 wo (torchvision's KMNIST.classes romanise them alike).
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    # EMNIST (Cohen et al. 2017, and each split's emnist-*-mapping.txt): byclass 62 classes in ASCII order;
    # bymerge and balanced 47, the 15 lower-case letters shaped like their capitals (c i j k l m o p s u v
    # w x y z) merged into them; letters 26 (labels 1-26, upper and lower case merged); digits and mnist 10.
    "emnist_byclass": DIGITS + UPPER + LOWER,
    "emnist_bymerge": DIGITS + UPPER + ("a", "b", "d", "e", "f", "g", "h", "n", "q", "r", "t"),
    "emnist_balanced": DIGITS + UPPER + ("a", "b", "d", "e", "f", "g", "h", "n", "q", "r", "t"),
    "emnist_letters": LOWER,
    "emnist_digits": DIGITS,
    "emnist_mnist": DIGITS,
}

# The authors' archive MD5s, as torchvision's datasets/mnist.py carries them (MNIST, FashionMNIST,
# KMNIST, QMNIST and EMNIST ``resources`` / ``md5``); sizes as the MNIST page and ../shared/data/README.md
# give them. Content SHA-256s: of the decompressed files, computed from the published files (the
# table in ../shared/data/README.md). A swap between two files is as wrong as a typo.
FILES = {
    "mnist": {
        "train_images": ("train-images-idx3-ubyte.gz", 9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873", None),
        "train_labels": ("train-labels-idx1-ubyte.gz", 28881, "d53e105ee54ea40749a09fcbcd1e9432",
                         "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        "test_images": ("t10k-images-idx3-ubyte.gz", 1648877, "9fb629c4189551a2d022fa330f9573f3",
                        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "test_labels": ("t10k-labels-idx1-ubyte.gz", 4542, "ec29112dd5afa0611ce80d1b7f02629c",
                        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    },
    "fashion_mnist": {
        "train_images": ("train-images-idx3-ubyte.gz", 26421880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                         "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        "train_labels": ("train-labels-idx1-ubyte.gz", 29515, "25c81989df183df01b3e8a0aad5dffbe",
                         "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        "test_images": ("t10k-images-idx3-ubyte.gz", 4422102, "bef4ecab320f06d8554ea6380940ec79",
                        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "test_labels": ("t10k-labels-idx1-ubyte.gz", 5148, "bb300cfdad3c16e7a12a480ee83cd310",
                        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    },
    # KMNIST's sizes are not published to the byte (its README: 18MB, 30KB, 3MB, 5KB): MD5s only.
    "kmnist": {
        "train_images": ("train-images-idx3-ubyte.gz", ..., "bdb82020997e1d708af4cf47b453dcf7", None),
        "train_labels": ("train-labels-idx1-ubyte.gz", ..., "e144d726b3acfaa3e44228e80efcd344", None),
        "test_images": ("t10k-images-idx3-ubyte.gz", ..., "5c965bf0a639b31b8f53240b1b52f4d7", None),
        "test_labels": ("t10k-labels-idx1-ubyte.gz", ..., "7320c461ea6c1c855c0b718fb2a4b134", None),
    },
    "qmnist": {
        "train_images": ("qmnist-train-images-idx3-ubyte.gz", None, "ed72d4157d28c017586c42bc6afe6370", None),
        "train_labels": ("qmnist-train-labels-idx2-int.gz", None, "0058f8dd561b90ffdd0f734c6a30e5e4", None),
        "test_images": ("qmnist-test-images-idx3-ubyte.gz", None, "1394631089c404de565df7b7aeaf9412", None),
        "test_labels": ("qmnist-test-labels-idx2-int.gz", None, "5b5b05890a5e13444e108efe57b788aa", None),
    },
    "nist": {
        "train_images": ("xnist-images-idx3-ubyte.xz", None, "7f124b3b8ab81486c9d8c2749c17f834", None),
        "train_labels": ("xnist-labels-idx2-int.xz", None, "5ed0e788978e45d4a8bd4b7caec3d79d", None),
    },
    **{name: {"archive": ("gzip.zip", None, "58c8d27c78d21e728a6bc7b3cc06412e", None)}
       for name in CLASS_NAMES if name.startswith("emnist_")},
}


def test_every_configuration_has_its_published_lists_pinned_here():
    # A new configuration fails here until its published class names and checksums are written above.
    assert set(SPECS) == set(CLASS_NAMES) == set(FILES)


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_class_names_are_the_published_ones_in_order(name, tmp_path):
    assert SPECS[name].class_names == CLASS_NAMES[name]
    # What a user sees: the names of the built dataset's label feature.
    info = mnist_hf.builder(name, cache_dir=str(tmp_path)).info
    assert tuple(info.features["label"].names) == CLASS_NAMES[name]


def test_emnist_letters_labels_start_at_one():
    # emnist-letters-mapping.txt maps labels 1-26 to A/a-Z/z; the other splits start at 0.
    assert {n: SPECS[n].label_offset for n in CLASS_NAMES if n.startswith("emnist_")} == {
        "emnist_byclass": 0, "emnist_bymerge": 0, "emnist_balanced": 0, "emnist_letters": 1,
        "emnist_digits": 0, "emnist_mnist": 0}


@pytest.mark.parametrize("name", FILES)
def test_recorded_files_and_checksums_are_the_published_ones(name):
    recorded = {role: (f.filename, ... if FILES[name][role][1] is ... else f.size, f.md5, f.content_sha256)
                for role, f in SPECS[name].files.items()}
    assert recorded == FILES[name]


# --- the real files ------------------------------------------------------------------------------

# Where each dataset's files are kept under ../shared/data: NIST's come from QMNIST's repository,
# and the six EMNIST configurations share one archive.
FOLDERS = {"fashion_mnist": "fashion-mnist", "nist": "qmnist", **{n: "emnist" for n in CLASS_NAMES if n.startswith("emnist_")}}


def _real_files() -> list:
    """Every recorded file once, with the (config, role) pairs that record it and where its real copy would be."""
    where: dict = {}
    for name, spec in SPECS.items():
        for role, f in spec.files.items():
            where.setdefault(SHARED_DATA / FOLDERS.get(name, name) / f.filename, []).append((name, role))
    return [pytest.param(path, users, id=f"{path.parent.name}/{path.name}") for path, users in where.items()]


def _decompressed(path) -> bytes:
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(path.suffix)
    if opener is None:
        return path.read_bytes()
    with opener(path) as f:
        return f.read()


@pytest.mark.real_data
@pytest.mark.parametrize(("path", "users"), _real_files())
def test_recorded_checksums_match_the_real_files(path, users):
    if not path.exists():
        pytest.skip(f"{path.parent.name}/{path.name} is not in {SHARED_DATA} (its README says what is there)")
    data = path.read_bytes()
    content = hashlib.sha256(_decompressed(path)).hexdigest()
    for name, role in users:
        spec = SPECS[name].files[role]
        assert spec.size is None or len(data) == spec.size, (name, role)
        assert hashlib.md5(data).hexdigest() == spec.md5, (name, role)
        assert spec.content_sha256 is None or content == spec.content_sha256, (name, role)
