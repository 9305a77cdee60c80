# The web UI (frontend/: React + TypeScript + Vite, docs/frontend.md).
# `npm ci` installs the packages pinned in package-lock.json into
# frontend/node_modules (kept between builds: it runs again only when the
# lock file changes); type-checked, then `vite build` writes frontend/dist,
# which the gateway serves (STATIC_DIR). No tool may download a browser:
# the end-to-end tests drive Debian's chromium (scripts/deps.sh).
#   make frontend        build frontend/dist
#   make frontend-dev    Vite's dev server on :5173, /api to a running gateway
#   make frontend-test   the component tests (Vitest) alone
FRONTEND_DIR := frontend
FRONTEND_DIST := $(FRONTEND_DIR)/dist/index.html
FRONTEND_MODULES := $(FRONTEND_DIR)/node_modules/.package-lock.json
FRONTEND_SRC := $(shell find $(FRONTEND_DIR)/src $(FRONTEND_DIR)/public -type f 2>/dev/null) \
	$(FRONTEND_DIR)/index.html $(FRONTEND_DIR)/vite.config.ts \
	$(FRONTEND_DIR)/tsconfig.json
NPM_FLAGS := --no-audit --no-fund --loglevel=error
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

EXTRA_TARGETS += $(FRONTEND_DIST)

$(FRONTEND_MODULES): $(FRONTEND_DIR)/package.json $(FRONTEND_DIR)/package-lock.json
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
		|| { echo "frontend: needs Node.js 20.19 or newer (node --version: $$(node --version))" >&2; exit 1; }
	@echo "  NPM     ci ($(FRONTEND_DIR))"
	$(Q)cd $(FRONTEND_DIR) && npm ci $(NPM_FLAGS)
	@touch $@

$(FRONTEND_DIST): $(FRONTEND_MODULES) $(FRONTEND_SRC)
	@echo "  VITE    $(FRONTEND_DIR)/dist"
	$(Q)cd $(FRONTEND_DIR) && node_modules/.bin/tsc --noEmit \
		&& node_modules/.bin/vite build --logLevel warn
	@touch $@

.PHONY: frontend frontend-dev frontend-test
frontend: $(FRONTEND_DIST)

frontend-dev: $(FRONTEND_MODULES)
	cd $(FRONTEND_DIR) && node_modules/.bin/vite

frontend-test: $(FRONTEND_MODULES)
	cd $(FRONTEND_DIR) && node_modules/.bin/vitest run
