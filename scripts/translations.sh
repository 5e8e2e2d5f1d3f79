#!/usr/bin/env bash
# Re-extract page strings and merge them into the catalogues (run after changing templates).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pybabel extract -F babel.cfg -k _ -k gettext -k N_ -k ngettext:1,2 --no-location --omit-header \
  -o idp/web/translations/messages.pot .
.venv/bin/pybabel update -i idp/web/translations/messages.pot -d idp/web/translations \
  -D messages --no-fuzzy-matching
.venv/bin/pybabel compile -d idp/web/translations -D messages
