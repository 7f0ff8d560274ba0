#!/usr/bin/env bash
# The lent GPU box's side of the reproduction (tools/device/README.md gives the call sequence). From the repo root:
#   bash tools/device/run.sh stage K              copy carried part K into .device-stage/, sha256 checked (instant)
#   bash tools/device/run.sh train [--budget S]   assemble + check, `resrepro data`, bench, train what fits, bundle
#                                                 into $OUT (python3 tools/device/devtrain.py --help: every option)
# Needs python3 with torch (the box's own); jsonschema and its needs come from .device/wheels when missing there.
set -u
export PYTHONPATH="$PWD/src:$PWD/tools/device${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
case "${1:-}" in
  stage)
    shift
    exec "$py" "$(dirname "$0")/devlib.py" stage "$@" ;;
  train)
    shift
    if ! "$py" -c "import jsonschema" 2>/dev/null; then
      "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/resrepro-site \
        .device/wheels/*.whl || { echo "error: the wheels in .device/wheels did not install"; \
        echo "fix: name .device/wheels in the call's carry (tools/device/prepare gathers them)"; exit 2; }
      export PYTHONPATH="$PYTHONPATH:/tmp/resrepro-site"
    fi
    mkdir -p "${OUT:=device-out}"
    export OUT
    # devtrain.py stops itself before its budget and rewrites each run's bundle after every finished job; on
    # SIGTERM (the call's limit) it stops its jobs and writes summary.json (exec: the signal reaches it).
    exec "$py" "$(dirname "$0")/devtrain.py" "$@" ;;
  *)
    echo "error: unknown step '${1:-}'" >&2
    echo "fix: bash tools/device/run.sh stage K | train [--budget S] [--pack K] [--run FILES] [--no-bench]" >&2
    exit 2 ;;
esac
