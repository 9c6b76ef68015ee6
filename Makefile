# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv when missing.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast test-slow lint typecheck bench

$(STAMP): pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch==2.13.0 is the CPU wheel on this machine's disk; the pin keeps a CUDA build out.
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# The main job: llama3 debugmodel (dp_shard 2 x tp 2) trained through ctc on 4 gloo processes
# with per-block bucketing, every step checked bitwise against the eager model.
demo: $(STAMP)
	$(VENV)/bin/ctc train --model llama3 --flavor debugmodel --mesh dp_shard=2,tp=2 \
		--passes transformer_block_bucketing --seq-len 64 --batch 1 --steps 3

lint: $(STAMP)
	$(VENV)/bin/ruff check ctc tests
	$(VENV)/bin/ruff format --check ctc tests
	$(VENV)/bin/pylint --score=n ctc tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test-fast: $(STAMP)
	$(VENV)/bin/pytest -q -m "not slow"

test-slow: $(STAMP)
	$(VENV)/bin/pytest -q -m slow; rc=$$?; [ $$rc -eq 5 ] && exit 0 || exit $$rc

test: lint typecheck test-fast
