#!/usr/bin/env bash
# Regenerates the README's results: the bundled v1, v2 and v2+RAG (and the base model on Exercism) face
# to face on the starter sheet's held-out prompts and on Exercism's Rust exercises; every answer checked
# by rustc, clippy and the exercises' tests. Full reports go to docs/results/.
#
#   scripts/results.sh [--endpoint URL] [--exercises N]
#
# By default the built-in CPU engine answers (slow: hours on a small machine). With --endpoint the
# questions go to an OpenAI-compatible server that serves the models under the names base, v1 and v2,
# e.g. the training worker's server on a GPU (training/worker/serve.py):
#   serve.json: {"model": "models/base/SmolLM2-135M-Instruct.Q4_1.gguf", "adapters": {"v1": "models/v1", "v2": "models/v2"}}
#   cd training && python3 -m worker serve --config serve.json
# --exercises N answers only the first N exercises. Environment: RESULTS_DATA (the scratch data folder,
# default build/results, emptied first), EXERCISM (default ../shared/data/exercism-rust), TOKIO (the Tokio
# tutorial's markdown, default ../shared/data/tokio-tutorial; skipped when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

endpoint="" exercises=0
while [ $# -gt 0 ]; do
  case "$1" in
    --endpoint) endpoint="$2"; shift 2 ;;
    --exercises) exercises="$2"; shift 2 ;;
    *) echo "results.sh: unknown argument $1 (want --endpoint URL or --exercises N)" >&2; exit 2 ;;
  esac
done
data="${RESULTS_DATA:-build/results}"
exercism="${EXERCISM:-../shared/data/exercism-rust}"
tokio="${TOKIO:-../shared/data/tokio-tutorial}"
[ -d "$exercism" ] || { echo "results.sh: no Exercism folder at $exercism (set EXERCISM)" >&2; exit 1; }

make build models
rx() { ./bin/rustexpert "$@" --data "$data" --models "$models"; }
rm -rf "$data" && mkdir -p "$data"
models=models
if [ -n "$endpoint" ]; then
  models="$data/no-bundled-models" # the served models take the names base, v1 and v2
  mkdir -p "$models"
  for m in base v1 v2; do rx models add "$m" --endpoint "$endpoint" --served-name "$m"; done
fi

rx rag ingest
[ -d "$tokio" ] && rx rag ingest --source tokio --dir "$tokio"
rx prompts import data/prompts.csv

# Held-out prompts: one answer each at temperature 0.2; jobs 1, 2 and 3.
ask="--split heldout --n 1 --temperatures 0.2 --max-tokens 512 --seed 1"
rx generate --model v1 $ask
rx generate --model v2 $ask
rx generate --model v2 --rag $ask

# Exercism: one answer per exercise; runs 1 to 4.
bench="--bench $exercism --n 1 --max-tokens 512 --seed 1 --limit $exercises"
rx eval --model base $bench > /dev/null
rx eval --model v1 $bench > /dev/null
rx eval --model v2 $bench > /dev/null
rx eval --model v2 --rag $bench > /dev/null

rx eval report --jobs 1,2,3 --held-out --runs 1,2,3,4 --out-dir docs/results --readme README.md
