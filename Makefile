# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv when missing.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast test-slow lint typecheck bench test-torch211

$(STAMP): pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch==2.13.0 is the CPU wheel on this machine's disk; the pin keeps a CUDA build out.
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# The main job, MISSION.md row 8 as the reference ran it: llama3 debugmodel with FlexAttention on
# dp_shard 2 x tp 4 (8 gloo processes), block bucketing and regional inductor, torchtitan's
# trainer on ctc's offline corpus (sequence 64, batch 1, 8 steps).
demo: $(STAMP)
	$(VENV)/bin/ctc train --model llama3 --flavor debugmodel_flex_attn --mesh dp_shard=2,tp=4 \
		--passes transformer_block_bucketing,regional_inductor --seq-len 64 --batch 1 --steps 8

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

# The torchtitan-free paths under torch 2.11 (what the lent GPU machine has), fast and slow, plus
# the torch-free suites. Runs this checkout (PYTHONPATH) with the venv at $(VENV211); build that
# once (about 3.5 GB of CUDA wheels from the registry; keep torch 2.11 out of .venv):
#   python3.11 -m venv /work/venv211
#   /work/venv211/bin/pip install torch==2.11.0 numpy attrs 'networkx>=3.4,<3.7' lark pytest hypothesis
#   /work/venv211/bin/pip install --no-deps -e .
VENV211 ?= /work/venv211
TORCH211_TESTS := tests/plain tests/compat/test_torch_version_gaps.py tests/ir tests/dsl \
	tests/schedule tests/passes tests/golden tests/lowering tests/test_torch_free.py tests/cudagraph
test-torch211:
	@test -x $(VENV211)/bin/python || { echo "no $(VENV211): see the comment above test-torch211 in the Makefile"; exit 1; }
	$(VENV211)/bin/python -c "import torch; assert torch.__version__.startswith('2.11'), torch.__version__"
	PYTHONPATH=$(CURDIR) $(VENV211)/bin/python -m pytest -q -p no:cacheprovider -m "slow or not slow" $(TORCH211_TESTS)
