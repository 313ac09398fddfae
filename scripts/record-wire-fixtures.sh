#!/usr/bin/env bash
# Records the wire fixtures in inference/testdata/wire/ from a real model server: starts the server
# on a local port with the bundled GGUF model, sends it the requests listed in
# scripts/record_wire_fixtures.py (model list, chat and plain completions, streamed and not, n=2,
# stop, seed, max_tokens, errors) and writes each answer, byte for byte, with the result a client
# must make of it. The inference package's replay test (TestWireFixtures) serves them back to the
# client.
#
# Usage:
#   scripts/record-wire-fixtures.sh llama-cpp-python   # -> inference/testdata/wire/llamacpp/
#   scripts/record-wire-fixtures.sh llama-server       # -> inference/testdata/wire/llama-server/
#
# Environment:
#   MODEL         GGUF file to serve (default models/base/SmolLM2-135M-Instruct.Q4_1.gguf)
#   PYTHON        for llama-cpp-python: a Python with llama-cpp-python and its server extras
#                 (pip install 'llama-cpp-python[server]'); default python3
#   LLAMA_SERVER  for llama-server: the llama-server binary of llama.cpp (default llama-server)
#   PORT          local port for the server (default 8088)
#   THREADS       CPU threads for the server (default 2)
#   NOTE          words added to the fixtures' server line, such as where the build came from
#
# vLLM and Ollama fixtures are not recorded by this script but written from documentation by
# scripts/write_documented_fixtures.py; see inference/testdata/wire/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

kind="${1:-}"
MODEL="${MODEL:-models/base/SmolLM2-135M-Instruct.Q4_1.gguf}"
PYTHON="${PYTHON:-python3}"
LLAMA_SERVER="${LLAMA_SERVER:-llama-server}"
PORT="${PORT:-8088}"
THREADS="${THREADS:-2}"

if [ ! -f "$MODEL" ]; then
  echo "model $MODEL not found; set MODEL to a GGUF file" >&2
  exit 1
fi
model_name="$(basename "$MODEL")"
log="$(mktemp)"

case "$kind" in
  llama-cpp-python)
    out=inference/testdata/wire/llamacpp
    version="$("$PYTHON" -c 'import llama_cpp; print(llama_cpp.__version__)')"
    server="llama-cpp-python $version (python -m llama_cpp.server), model $model_name"
    "$PYTHON" -m llama_cpp.server --model "$MODEL" --model_alias smollm2 --n_threads "$THREADS" \
      --n_ctx 2048 --host 127.0.0.1 --port "$PORT" >"$log" 2>&1 &
    ;;
  llama-server)
    out=inference/testdata/wire/llama-server
    version="$("$LLAMA_SERVER" --version 2>&1 | grep -m1 version || true)"
    server="llama.cpp llama-server ${version:-unknown version}, model $model_name"
    "$LLAMA_SERVER" -m "$MODEL" --alias smollm2 -t "$THREADS" -c 2048 --host 127.0.0.1 --port "$PORT" \
      >"$log" 2>&1 &
    ;;
  *)
    echo "usage: $0 llama-cpp-python|llama-server" >&2
    exit 2
    ;;
esac
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -f "$log"' EXIT

if [ -n "${NOTE:-}" ]; then
  server="$server; $NOTE"
fi
base="http://127.0.0.1:$PORT/v1"
for _ in $(seq 1 240); do
  if "$PYTHON" -c "import urllib.request; urllib.request.urlopen('$base/models', timeout=2)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server exited; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done

rm -f "$out"/*.txt
"$PYTHON" scripts/record_wire_fixtures.py "$base" "$out" "$server"
echo "fixtures written to $out" >&2
