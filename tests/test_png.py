import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp
from PIL import Image

from mnist_hf.png import encode_png_batch


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=30)))
def test_pil_decodes_every_pixel(images):
    for png, image in zip(encode_png_batch(images), images):
        decoded = Image.open(io.BytesIO(png))
        assert decoded.mode == "L"
        np.testing.assert_array_equal(np.asarray(decoded), image)


def test_rejects_wrong_input():
    with pytest.raises(ValueError, match="uint8"):
        encode_png_batch(np.zeros((2, 3, 3), dtype=np.float32))
