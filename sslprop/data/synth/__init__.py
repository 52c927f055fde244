"""The embedded benchmark: real stamp cut-outs and their real sounds composited onto real photos (`python -m sslprop synth`).

One job per module:

- `assets`: the material: the shipped stamps and their recordings, the background photos, the class subsets,
  the `scenes` co-occurrence bias, and the random draws of a stamp, classes or a background crop from the bank.
- `compose`: frames and sounds: resizing and pasting stamps (exact alpha boxes and masks), placing them with
  little or some overlap, rendering a frame, annotator jitter, and the audio excerpts.
- `presets`: the samples of each preset (solo, mosaic, scenes, sequences, listening), each from its own generator.
- `generator`: a whole set on disk (dataset.json, manifest.jsonl, frames, audio), its version, and the CLI.
"""
