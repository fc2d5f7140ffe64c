# The two commands a newcomer needs:
#   make dev    start the whole platform on embedded defaults
#   make test   run every check CI runs
#
# Everything is built with `--workspace`, always the same way, so Cargo never rebuilds dependencies with a
# different feature set between commands.

.PHONY: dev test build web lint fmt

dev: build web
	./target/debug/ec dev

# The storefront (web/): its pinned packages and the production build ec dev serves on :5173.
web:
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

build:
	cargo build --workspace --bins

test:
	scripts/test.sh

lint:
	scripts/test.sh --lint-only

fmt:
	cargo fmt --all
