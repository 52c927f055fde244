"""Data: the on-disk format, the embedded benchmark, readers of the real data sets, audio and video."""
