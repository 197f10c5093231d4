# Shortcuts for the two README commands (the scripts work without make too).
.PHONY: serve test setup
serve:
	scripts/serve
test:
	scripts/test
setup:
	scripts/setup
