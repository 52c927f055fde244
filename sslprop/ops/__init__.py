"""Tensor operations with no model state: box maths (`boxes`) and the GRM with proposal scoring and top-K selection (`grm`)."""
