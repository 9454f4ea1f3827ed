"""The melody modality: monophonic melodies as 16th-note tokens (Magenta's MusicVAE encoding).

Data half: `tokens` (the encoding), `midi` (read/write MIDI), `corpus` (the folk-melodies set
built from music21's ABC corpus with abc2midi), `dataset` (splits by tune, transposition task),
`baselines`, `metrics` and `render` (piano rolls, WAV).
"""
