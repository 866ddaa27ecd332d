# The two commands of the README. Both set up .venv first; nothing else is needed
# but Python 3.11 and the package registries. `make demo` installs the core package
# only (what scoring needs: about a minute and 260 MB); `make test`, `lint` and `bench`
# install the dev extra (torch, Ray, the server, the test tools) on top, also after a
# `make demo`. `make test` runs the tests against a throwaway redis-server, which
# scripts/with_test_redis.sh installs with apt-get when it is missing (as root).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORE := $(VENV)/.installed-core
DEV := $(VENV)/.installed-dev

.PHONY: setup demo test lint bench clean

setup: $(DEV)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Where the dev extra is installed, a changed pyproject.toml reinstalls that instead: the
# core install alone would move antlr4 back to 4.13 and break the dev extra's verl.
$(CORE): pyproject.toml | $(BIN)/python
	if [ -e $(DEV) ]; then rm -f $(DEV) && $(MAKE) $(DEV); \
	else $(BIN)/pip install --quiet -e '.[report]'; fi
	touch $@

# The dev extra includes the core install, so it stands for both.
$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	# verl for tests/adapters/test_verl_trainer.py, in a second step: verl's hydra-core
	# needs omegaconf >= 2.1 and so antlr4 4.9.*, which math-verify[antlr4_13_2] excludes,
	# and one resolution of both falls back to hydra-core 0.11, which verl cannot import.
	# This step moves antlr4 to 4.9.3 (which latex2sympy2_extended also supports) and
	# transformers below 5.11 (verl's bound), and with it `kernels` to the release
	# transformers 5.10 imports.
	$(BIN)/pip install --quiet 'verl>=0.9.1,<0.10' 'kernels>=0.12,<0.13'
	# verl 0.5-0.7.0 for the tests of its batch reward manager (one environment holds one
	# verl): its code only, run in a subprocess
	$(BIN)/pip install --quiet --no-deps --upgrade --target $(VENV)/verl-0.7.0 'verl==0.7.0'
	# OpenRLHF's own reward client for tests/openrlhf_client.py: its code only (its
	# DeepSpeed and vLLM are not needed to send reward requests)
	$(BIN)/pip install --quiet --no-deps --upgrade --target $(VENV)/openrlhf-0.11.2 'openrlhf==0.11.2'
	touch $@ $(CORE)

demo: $(CORE)
	$(BIN)/rewardsmith score examples/math_grpo.jsonl --reward examples/math_pipeline.yaml \
		-o examples/out/math_grpo.scored.jsonl --advantage grpo --timings
	$(BIN)/rewardsmith report examples/out/math_grpo.scored.jsonl -o examples/out/report.html

test: $(DEV)
	$(BIN)/ruff check src tests bench examples
	bash scripts/run_tests.sh

lint: $(DEV)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

bench: $(DEV)
	$(BIN)/python bench/math_throughput.py
	$(BIN)/python bench/code_throughput.py
	$(BIN)/python bench/sandbox_costs.py
	$(BIN)/python bench/noise_simulation.py
	$(BIN)/python bench/length_simulation.py
	$(BIN)/python bench/serve_throughput.py
	$(BIN)/python bench/ray_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info examples/out
