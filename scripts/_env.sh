# Sourced by scripts/bootstrap and scripts/test: a project venv with backbone installed (re-installed only
# when pyproject.toml changes), activated.
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=.venv/.backbone-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing backbone into .venv (first time: about 2 minutes)" >&2
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e '.[dev]'
  echo "$want" > "$stamp"
fi
