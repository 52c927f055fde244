"""The map-based methods of Table 2 and two later ones, each a `Method` (see sslprop.models.methods) in a module of its own.

attention (Senocak 2018), avol (Objects-that-Sound, Arandjelovic 2018), dmc (Hu 2019),
dsol (Hu 2020, two stages), ezvsl (Mo 2022, EZ-VSL), lvs (Chen 2021), pixelplayer (Zhao 2018),
slavc (Mo 2022, SLAVC). Each module defines
`METHOD`, a `MapMethod` (`method.py`: the skeleton they share); `baselines()` collects those present.
"""

from __future__ import annotations

import importlib
import importlib.util

NAMES = ("attention", "avol", "dmc", "dsol", "ezvsl", "lvs", "pixelplayer", "slavc")


def baselines() -> dict:
    """{name: Method} of the baseline modules present in this package."""
    found = {}
    for name in NAMES:
        module = f"{__name__}.{name}"
        if importlib.util.find_spec(module) is not None:
            found[name] = importlib.import_module(module).METHOD
    return found
