"""What only the notebooks use: the cached workflow (`workflow`), the paper's numbers (`published`),
Tables 2-4 (`tables`), sentences (`sentences`), figures (`plots`, `viz`), the widgets (`widgets`),
looks at data and models (`explore`), the Fig. 1 toys and GRM analyses (`toys`) and the per-clip
tracks of Figs. 3-5 (`tracks`). Nothing in `sslprop.models`, `engine`, `data` or `evaluation`
imports it."""
