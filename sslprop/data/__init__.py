"""Data: the on-disk formats (samples, prediction files), the embedded benchmark, readers of the real data sets, audio and video."""
