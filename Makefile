# iak-stream: the commands the README tells people to type.
#   make test   install what is missing, fetch the data, build, lint, run every test
#   make demo   the end-to-end demo on the embedded broker
#   make bench  the benchmarks, printing figures
#   make experiment  the MovieLens adaptation experiment, writing docs/experiments.md (not in CI)
#   make controlled-experiment  a known effect planted in MovieLens: how much of it kernels
#               recover, writing docs/controlled-experiment.md (not in CI)
#   make label-mode-experiment  label.mode (wait, fake_negative, es_dfm) at serving time on 5 s
#               and long-tail click delays, writing its section of docs/experiments.md (not in CI)
#   make upgrade-experiment  kernels re-based on an upgraded backbone against kernels from zero,
#               at serving time, writing docs/backbone-upgrade.md (not in CI)
#   make chaos  the reliability suite in full (crashes, broker and storage faults, hostile input)

SWIFT ?= swift
BIN := .build/debug/iak-stream
RELEASE_BIN := .build/release/iak-stream

.PHONY: all build release deps data lint test demo bench experiment controlled-experiment chaos \
	label-mode-experiment upgrade-experiment clean

all: build

deps:
	@./scripts/install-deps

data:
	@./scripts/fetch-data

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

lint:
	$(SWIFT) format lint --strict -r Sources Tests Package.swift

test: deps data build lint
	@./scripts/check-tools $(BIN)
	# One test at a time in each of two runs side by side (the suites that mostly wait, and the
	# others): the Kafka tests block threads while a mock cluster answers, and on a 2-core
	# machine many parallel tests can starve Swift's cooperative pool (seen as a hang).
	SWIFT=$(SWIFT) ./scripts/run-tests

demo: deps data release
	@./scripts/demo $(RELEASE_BIN)

bench: deps data release
	@./scripts/bench $(RELEASE_BIN)

experiment: deps data release
	@./scripts/experiment $(RELEASE_BIN)

controlled-experiment: deps data release
	@./scripts/controlled-experiment $(RELEASE_BIN)

label-mode-experiment: deps data release
	@./scripts/label-mode-experiment $(RELEASE_BIN)

upgrade-experiment: deps data release
	@./scripts/upgrade-experiment $(RELEASE_BIN)

chaos: deps data build
	@./scripts/chaos

clean:
	rm -rf .build out
