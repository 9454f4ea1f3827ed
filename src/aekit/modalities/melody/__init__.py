"""The melody modality: monophonic melodies as 16th-note tokens (Magenta's MusicVAE encoding).

Data half: `tokens` (the encoding), `midi` (read/write MIDI), `abc` (ABC tunes through
abc2midi, music21 as the slow fallback), `corpus` (the folk-melodies cache built from music21's
ABC corpus), `dataset` (splits by tune, the transposition task), `baselines`, `metrics` and
`render` (piano rolls, MIDI, WAV).
"""
