# Sourced by the scripts that run clients written in other languages against
# a real Latch (examples/fastapi, tests/schemathesis).

# latch_bin REPO: exports LATCH_BIN as an absolute path; unset, Latch is
# built with cargo first.
latch_bin() {
  local repo="$1"
  if [[ -z "${LATCH_BIN:-}" ]]; then
    echo "ci: building Latch (cargo build -p latch --bin latch)"
    (cd "$repo" && cargo build -p latch --bin latch)
    LATCH_BIN="$repo/target/debug/latch"
  elif [[ "$LATCH_BIN" != /* ]]; then
    LATCH_BIN="$PWD/$LATCH_BIN"  # the scripts change directory
  fi
  export LATCH_BIN
}

# python_venv DIR REQUIREMENTS: makes (once) a virtualenv in DIR and installs
# REQUIREMENTS into it; afterwards "$DIR/bin/python" runs with them.
python_venv() {
  local venv="$1" requirements="$2"
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "ci: creating $venv"
    if ! python3 -m venv "$venv"; then
      # Debian's python3 has no ensurepip without the python3-venv package:
      # make the venv without pip and install into it with the system's pip.
      rm -rf "$venv"
      python3 -m venv --without-pip "$venv"
    fi
  fi
  local pip
  if "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    pip=("$venv/bin/python" -m pip)
  else
    pip=(python3 -m pip --python "$venv/bin/python")
  fi
  "${pip[@]}" install --quiet --disable-pip-version-check -r "$requirements"
}
