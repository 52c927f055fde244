"""The model and what it is built from: the proposal model (`model`), encoders (`encoders`, shipped small
weights in `weights`, frozen and cached in `frozen`), losses (`losses`), negative pairs (`negatives`),
the `Method` interface with Ours (`methods`) and the baselines of Table 2 (`baselines`)."""
