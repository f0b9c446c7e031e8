"""Datasets on disk, preprocessing and training crops."""
