# The two commands a newcomer needs:
#   make dev    start the whole platform on embedded defaults
#   make test   run every check CI runs
#
# Everything is built with `--workspace`, always the same way, so Cargo never rebuilds dependencies with a
# different feature set between commands.

.PHONY: dev test build web lint fmt

dev: build web
	./target/debug/ec dev

# The storefront (web/): its pinned packages and the production build ec dev serves on :5173. Each step runs
# only when what it reads changed: packages when the lock file did, the build when a source, the API or the
# packages did.
web: web/dist/index.html

web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

WEB_SOURCES := $(shell find web/src web/index.html web/vite.config.ts web/tsconfig.json web/buf.gen.yaml proto \
	-type f -not -path 'web/src/gen/*' 2>/dev/null)

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

build:
	cargo build --workspace --bins

test:
	scripts/test.sh

lint:
	scripts/test.sh --lint-only

fmt:
	cargo fmt --all
