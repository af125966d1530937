# virtualobserver: `make demo` runs the demo project, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test test-slow test-reliability test-mutation test-mutation-persistence test-all lint-imports benchmark screenshots clean-data

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,interop,hats]'
	touch $(STAMP)

## Set up and run the demo project (embedded PostgreSQL, data in $$VO_DATA or ~/.local/share/virtualobserver);
## on a terminal it then opens the TUI on it (q quits); otherwise it only prints the summary.
demo: $(STAMP)
	$(BIN)/vo run configs/demo.yaml
	@if [ -t 0 ] && [ -t 1 ]; then $(BIN)/vo tui configs/demo.yaml; fi

## Write a screenshot (SVG and PNG) of every TUI screen to results/screenshots, on the demo project of configs/demo.yaml
## (120 catalog rows, its simulation too, stored in memory so the pictures are the same everywhere; about 75 s of CPU).
screenshots: $(STAMP)
	$(BIN)/python -m tests.tui.screenshots results/screenshots

## Set up and run the default test suite on both cores (one test module per worker; about 17 minutes on 2 cores; the aim is 10).
test: $(STAMP)
	$(BIN)/ruff check domain services adapters tui tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadfile

## Long statistical runs and large benchmarks.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

## Reliability suite at full counts (about 15 minutes on 2 cores, both used): kills, faults, fuzzing, security, races, repairs.
test-reliability: $(STAMP)
	VO_RELIABILITY=full HYPOTHESIS_PROFILE=full $(BIN)/python -m pytest -n 2 --dist loadfile tests/reliability

$(VENV)/.mutation-installed: $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,interop,hats,mutation]'
	touch $@

## Mutation testing of the science core with mutmut against the unit tests, on a deterministic sample of its
## mutants (1/16 of each file's, by a hash of their names; MUTATION_SAMPLE=1 for all, about 5 hours) so that it
## fits in an hour on 2 cores; MUTANTS='domain.statistics*' narrows it to one module. Resumes where it stopped.
## The report estimates the whole core's score with a 95 % interval. Scores and equivalent survivors: tests/README.md.
test-mutation: $(VENV)/.mutation-installed
	mkdir -p mutants
	MUTATION_SAMPLE=$(MUTATION_SAMPLE) $(BIN)/python -m tests.mutation.sample $(MUTANTS) > mutants/sample.txt
	if [ -s mutants/sample.txt ]; then $(BIN)/mutmut run --max-children $(or $(JOBS),2) $$(cat mutants/sample.txt); fi
	MUTATION_SAMPLE=$(MUTATION_SAMPLE) $(BIN)/python tests/mutation_report.py

## Mutation testing of the persistence/resume core (step bookkeeping, version filters of the repositories, histogram
## parts) against the PostgreSQL integration tests and the run unit tests, in build/mutation-persistence with its own
## [tool.mutmut] and a scratch PostgreSQL (about half an hour on one core; JOBS=2 for two). Resumes where it stopped;
## MUTANTS='--survivors' runs the survivors again. Scores and equivalent survivors: tests/mutation/persistence.md.
test-mutation-persistence: $(VENV)/.mutation-installed
	$(BIN)/python -m tests.mutation.persistence --max-children $(or $(JOBS),1) $(MUTANTS)

## Everything: the default suite, then the slow, reliability and mutation suites.
test-all: test test-slow test-reliability test-mutation test-mutation-persistence

lint-imports: $(STAMP)
	$(BIN)/lint-imports

## Benchmarks (minutes): persistence cost against an in-memory baseline, memory against catalog size,
## and concurrent downloads from a slow local archive.
benchmark: $(STAMP)
	$(BIN)/python benchmarks/run_demo_scaling.py 1000
	$(BIN)/python benchmarks/run_demo_images.py 1000 3
	$(BIN)/python benchmarks/run_memory_flatness.py 500 4000
	$(BIN)/python benchmarks/run_download_concurrency.py 1000 0.2 16 100
	$(BIN)/python benchmarks/run_scale.py reference 1000 100000
	$(BIN)/python benchmarks/run_scale.py realistic 1000
	$(BIN)/python benchmarks/run_cone_search.py 1000000 300
	$(BIN)/python benchmarks/run_dask_workers.py 1000 50 2

## Remove the data folder ($$VO_DATA or ~/.local/share/virtualobserver): every project's files, the embedded
## database and the answer cache (its server stopped first; refused while a vo process uses it).
clean-data: $(STAMP)
	$(BIN)/python -m virtualobserver.adapters.cli.clean_data
