"""The comparison command: where the dataset builder (``mnist_hf``) and the split strategies
(``splitters``) meet.

Neither package knows the other's job (``splitters`` knows nothing about MNIST, ``mnist_hf`` nothing
about model comparison); this small package joins them and may import both:

- :mod:`mnist_compare.cli`: the ``compare-splits`` command (also ``scripts/compare_splits.py``);
- :mod:`mnist_compare.shifts`: shifted copies of an image test set (rotate, thicken, noise, ...).
"""
