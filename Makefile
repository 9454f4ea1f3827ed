# The two commands of the README. Both set up everything on a fresh machine:
# a venv with the pinned CPU build of torch installed FIRST (pyproject asks only for a range,
# which pip would meet with a multi-GB CUDA build), then aekit itself with every extra (serve,
# music) and the dev tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: install demo test test-all lint bench data music browser load clean dist

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[all,mlflow,dev]'
	$(BIN)/python -m pip install --quiet --no-deps 'music21>=9'  # the folk-tune corpus: data only
	rm -f $(VENV)/.installed-*
	touch $@

# Fashion-MNIST from Debian's package when it is missing and apt can install it; otherwise say
# how to get it (aekit itself also looks in AEKIT_DATA, ~/.cache/aekit, and downloads).
data:
	@if [ -f $(FASHION) ] || [ -n "$$AEKIT_DATA" ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's dataset-fashion-mnist"; \
	  (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null)); \
	else echo "Fashion-MNIST not found and apt-get unusable; aekit will try its download"; fi

# Debian's abc2midi (folk tunes in ABC -> MIDI in seconds), fluidsynth and a General MIDI
# soundfont (melodies -> WAV) for the melody modality. Without them aekit falls back to music21's
# slow parser, and writes MIDI without audio, saying so.
MUSIC_DEBS := abcmidi fluidsynth fluid-soundfont-gm
music:
	@if command -v abc2midi >/dev/null && command -v fluidsynth >/dev/null \
	    && [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's $(MUSIC_DEBS)"; \
	  (apt-get install -y -qq $(MUSIC_DEBS) >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq $(MUSIC_DEBS) >/dev/null)); \
	else echo "abc2midi/fluidsynth not found and apt-get unusable; melody tests that need them skip"; fi

# Debian's chromium for the explorer's browser tests (Playwright drives it; it never downloads a
# browser). Without it and without apt, those tests skip and say why.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)); \
	else echo "chromium not found and apt-get unusable; browser tests will skip"; fi

# Four uses trained on Fashion-MNIST and reported (src/aekit/demo.py): open runs/demo/index.html.
DEMO_OUT := runs/demo
demo: install data
	rm -rf $(DEMO_OUT)
	$(BIN)/aekit demo --out $(DEMO_OUT)

test: install data music browser
	$(BIN)/python -m pytest -q -m "not slow"

test-all: install data music browser
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests benchmarks fuzz
	$(BIN)/ruff format --check src tests benchmarks fuzz

# Coverage-guided fuzzing (atheris) of every parser of untrusted input, FUZZ_RUNS inputs each;
# AekitError is the expected refusal, anything else a crash whose input lands in
# fuzz/corpus/<parser>/, which the default test run replays (tests/fuzz/test_corpus.py).
# One parser: make fuzz FUZZ_PARSERS=config. Outside `make test`: minutes, not seconds.
FUZZ_RUNS    ?= 10000
FUZZ_PARSERS ?= idx image config checkpoint arrays server midi

.PHONY: fuzz
# The explorer under load and abuse (issue 6): 32 decode clients for 30 s, uploads, bad requests.
load: install
	cd benchmarks && ../$(BIN)/python serve_load.py

fuzz: install
	$(BIN)/python -c "import atheris" 2>/dev/null || $(BIN)/python -m pip install --quiet atheris
	$(BIN)/python -m fuzz.seeds build/fuzz/seeds
	@failed=""; for parser in $(FUZZ_PARSERS); do \
	  $(BIN)/python -m fuzz.run $$parser --runs $(FUZZ_RUNS) > build/fuzz/$$parser.log 2>&1 \
	    || failed="$$failed $$parser"; \
	  grep -a "^fuzz $$parser:" build/fuzz/$$parser.log || tail -5 build/fuzz/$$parser.log; \
	done; \
	if [ -n "$$failed" ]; then echo "crashes in:$$failed (inputs in fuzz/corpus/, logs in build/fuzz/)"; exit 1; fi

bench: install data
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/quality.py

# pythae beside aekit, each training the same conv-vae (benchmarks/pythae_vae.py), in a venv of
# its own so pythae's dependencies never touch aekit's. torch first, as in `install`; the
# requirements file pins it beside pythae and constrains aekit's install too.
# Extra flags: make bench-pythae PYTHAE_ARGS="--repeats 3"
PYTHAE_VENV  := .venv-pythae
PYTHAE_REQS  := benchmarks/requirements-pythae.txt
PYTHAE_STAMP := $(PYTHAE_VENV)/.installed-$(shell cat pyproject.toml $(PYTHAE_REQS) | cksum | cut -d' ' -f1)
PYTHAE_ARGS  ?=

.PHONY: bench-pythae
bench-pythae: $(PYTHAE_STAMP) data
	$(PYTHAE_VENV)/bin/python benchmarks/pythae_vae.py $(PYTHAE_ARGS)

$(PYTHAE_STAMP): pyproject.toml $(PYTHAE_REQS)
	test -x $(PYTHAE_VENV)/bin/python || $(PYTHON) -m venv $(PYTHAE_VENV)
	$(PYTHAE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PYTHAE_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(PYTHAE_VENV)/bin/python -m pip install --quiet -r $(PYTHAE_REQS)
	$(PYTHAE_VENV)/bin/python -m pip install --quiet -c $(PYTHAE_REQS) -e .
	rm -f $(PYTHAE_VENV)/.installed-*
	touch $@

# The sdist and the wheel (built from the sdist) in dist/: `pip install dist/aekit-*.whl`.
# Offline: the dev extra installs `build` and setuptools, so no isolated build env is fetched.
dist: install
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist

clean:
	rm -rf $(VENV) $(PYTHAE_VENV) runs .pytest_cache dist
