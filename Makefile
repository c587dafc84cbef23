# Hjulet: two commands on a fresh machine: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PO := $(wildcard locales/*/LC_MESSAGES/*.po)
MO := $(PO:.po=.mo)
NLU_MODEL := nlu/build/model.npz
NLU_INPUTS := $(wildcard nlu/data/*.yml nlu/data/risk/*.yml) nlu/model.py nlu/features.py nlu/classifier.py nlu/embedding.py nlu/identifier.py nlu/engine.py nlu/csrc/e5.c nlu/csrc/e5.h

.PHONY: run chat test lint typecheck pytest locales locales-check mo migrate clean help venv nlu-model bench

help:
	@echo "make run     start the desk on http://127.0.0.1:8080 with a demo directory (SQLite, no token)"
	@echo "make chat    talk to Hjulet in this terminal (the mapping conversation)"
	@echo "make test    lint, type-check and run every test"
	@echo "make bench   load test: 200 families in webhook mode, SQLite and PostgreSQL, against an echo bot"
	@echo "make lint    ruff"
	@echo "make locales extract message ids, update and compile the catalogs"
	@echo "make clean   remove the virtual environment and compiled catalogs (keeps var/, the data)"

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

locales/%.mo: locales/%.po $(STAMP)
	$(BIN)/pybabel -q compile -i $< -o $@

mo: $(MO)

# The NLU model, built from nlu/data (python -m nlu.build rebuilds only when the data changed).
$(NLU_MODEL): $(STAMP) $(NLU_INPUTS)
	$(BIN)/python -m nlu.build

nlu-model: $(NLU_MODEL)

migrate: $(STAMP) mo
	$(BIN)/hjulet db upgrade

run: $(STAMP) mo migrate nlu-model
	$(BIN)/hjulet demo --if-empty
	$(BIN)/hjulet serve

chat: $(STAMP) mo migrate nlu-model
	$(BIN)/hjulet chat

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy flows nlu

pytest: $(STAMP) mo nlu-model
	$(BIN)/pytest

locales-check: $(STAMP)
	$(BIN)/hjulet locales check

test: lint typecheck locales-check pytest

# Load in webhook mode: FAMILIES families through the fake Bot API, on SQLite and PostgreSQL, next to a
# minimal aiogram echo bot; fails when a floor is missed (0 lost, 0 doubled, handling p99 < 250 ms).
FAMILIES ?= 200
bench: $(STAMP) mo nlu-model
	$(BIN)/python -m tests.bench.webhook_bench --families $(FAMILIES)

locales: $(STAMP)
	$(BIN)/python -m bot.locales_tool update
	$(MAKE) mo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache nlu/build
	find locales -name '*.mo' -delete
