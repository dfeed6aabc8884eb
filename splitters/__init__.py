"""Validation-split strategies with a scikit-learn API (filled in by the splitters work)."""
