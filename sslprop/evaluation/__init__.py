"""Scoring: the reference evaluators' rules (`metrics`), `sslprop eval` (`evaluate`, which runs `annotated`: annotations
-> the scored frames, `scoring`: per-frame values, the report and the paired comparison, and `report`: the text table),
the floors without a model (`floors`), Table 1's on/off-screen criteria (`onscreen`), the listening test (`listening`)
and the own-sound probe (`probe`); the prediction files they read are `sslprop.data.predfiles`."""
