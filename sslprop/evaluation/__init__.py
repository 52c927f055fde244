"""Scoring: the reference evaluators' rules (`metrics`), `sslprop eval` (`evaluate`), the floors without a
model (`floors`), Table 1's on/off-screen criteria (`onscreen`), the prediction files' contract
(`predfiles`) and the own-sound probe (`probe`)."""
