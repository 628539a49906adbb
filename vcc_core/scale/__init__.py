"""Evaluation past memory: streamed files in bounded memory, and Dask."""
