#!/usr/bin/env bash
# Snakemake runs this inside the conda environment it has just created (--sdm conda), in the
# working directory of the run. It installs resrepro itself, editable and without dependencies
# (the environment file has them). A `-e ../` line in the environment file cannot do this:
# Snakemake copies the file to .snakemake/conda/<hash>.yaml before `conda env create`, so a
# relative path there points into .snakemake/, not at this repository.
set -euo pipefail
src=${RESREPRO_SRC:-$PWD}
if [[ ! -f $src/pyproject.toml ]] || ! grep -q '^name = "resrepro"$' "$src/pyproject.toml"; then
  echo "post-deploy: '$src' is not the resrepro repository. Run snakemake from the repository" \
    "root, or set RESREPRO_SRC=/path/to/resrepro when using -d/--directory." >&2
  exit 1
fi
python -m pip install --quiet --no-deps --no-build-isolation --editable "$src"
