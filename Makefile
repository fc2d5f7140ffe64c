# The two commands a newcomer needs:
#   make dev    start the whole platform on embedded defaults
#   make test   run every check CI runs
#
# Everything is built with `--workspace`, always the same way, so Cargo never rebuilds dependencies with a
# different feature set between commands.

.PHONY: dev test build lint fmt

dev: build
	./target/debug/ec dev

build:
	cargo build --workspace --bins

test:
	scripts/test.sh

lint:
	scripts/test.sh --lint-only

fmt:
	cargo fmt --all
