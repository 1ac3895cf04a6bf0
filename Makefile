# Two commands: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench index clean eval model train-reader

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[test]'
	@touch $(STAMP)

# The one-time ONNX export of the embedding model into the user cache folder (quiet once it is there).
model: $(STAMP)
	@$(PY) -m qa.embedding

index/CURRENT: | $(STAMP)
	$(VENV)/bin/qa index

run: $(STAMP) model index/CURRENT
	$(VENV)/bin/qa

test: $(STAMP)
	$(PY) -m pytest -q

eval: $(STAMP) model index/CURRENT
	$(VENV)/bin/qa eval questions tests/data/questions.jsonl
	$(VENV)/bin/qa eval questions tests/data/questions_dev.jsonl

# Fine-tune the reader on SQuAD 2.0 dev (../shared/bench/squad_v2.0_dev, or SQUAD=DIR) into qa/reader/model/.
# Seeded and reproducible; ~30 min on 2 cores. `make train-reader ARGS=--tiny` is the seconds-long CI slice.
SQUAD ?= ../shared/bench/squad_v2.0_dev
train-reader: $(STAMP)
	$(PY) -m qa.reader.train $(if $(findstring --tiny,$(ARGS)),,--data $(SQUAD)) $(ARGS)

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) index/gen-* index/CURRENT index/.lock index/extracted
