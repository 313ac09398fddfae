"""Tests of the training worker; run from training/: python3 -m unittest discover -s worker/tests -t ."""
