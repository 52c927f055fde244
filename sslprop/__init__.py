"""sslprop: proposal-based self-supervised sound source localisation (Xuan et al., CVPR 2022)."""

__version__ = "0.1.0"
