#!/usr/bin/env bash
# Builds the Docker image and checks it for real: /healthz and the image's HEALTHCHECK, the first-run
# setup page, a prompt import, a chat answer from the bundled model, that the database outlives a
# restart and a new container, and that cookies are Secure with RUSTEXPERT_SECURE_COOKIES=1.
# Not part of `make test`: it needs a container engine and takes minutes (the first build downloads
# Go modules, Debian packages and the bundled models).
#
#   scripts/docker-smoke.sh                      # docker
#   CONTAINER=podman scripts/docker-smoke.sh     # podman (builds with --format docker for HEALTHCHECK)
#
# Settings (environment): IMAGE (tag, default rustexpert:smoke), PORT (host port, default 18080),
# SKIP_BUILD=1 (test IMAGE as it is), BASE (one Debian bookworm image for both stages, e.g. a local
# one when no registry is reachable), BUILD_ARGS (more build flags, e.g. "--build-arg RUST_CHECKS=1"),
# KEEP=1 (leave the container and its volume for a look afterwards).
set -euo pipefail

CONTAINER=${CONTAINER:-docker}
IMAGE=${IMAGE:-rustexpert:smoke}
PORT=${PORT:-18080}
NAME=rustexpert-smoke
VOLUME=rustexpert-smoke-data
URL=http://127.0.0.1:$PORT
ADMIN=admin
PASSWORD=smoke-test-password
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
JAR=$WORK/cookies

say() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; "$CONTAINER" logs --tail 30 "$NAME" >&2 || true; exit 1; }

cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    say "kept container $NAME and volume $VOLUME"
  else
    "$CONTAINER" rm -f "$NAME" >/dev/null 2>&1 || true
    "$CONTAINER" volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}

build() {
  local args=(build -t "$IMAGE")
  if [ "$CONTAINER" = podman ]; then
    args+=(--format docker)
  fi
  if [ -n "${BASE:-}" ]; then
    args+=(--build-arg "BUILD_IMAGE=$BASE" --build-arg "RUNTIME_IMAGE=$BASE")
  fi
  # shellcheck disable=SC2206 # BUILD_ARGS is meant to split into words
  args+=(${BUILD_ARGS:-} .)
  local start=$SECONDS
  "$CONTAINER" "${args[@]}"
  say "built $IMAGE in $((SECONDS - start)) s"
  "$CONTAINER" image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "== image size %.0f MB\n", $1 / 1e6}'
}

# start runs the image on the volume; extra arguments go to `run` before the image.
start() {
  "$CONTAINER" rm -f "$NAME" >/dev/null 2>&1 || true
  "$CONTAINER" run -d --name "$NAME" -p "127.0.0.1:$PORT:8080" -v "$VOLUME:/data" "$@" "$IMAGE" >/dev/null
  wait_ready
}

wait_ready() {
  local i
  for i in $(seq 1 60); do
    if [ "$(curl -s "$URL/healthz" || true)" = ok ]; then
      return 0
    fi
    sleep 1
  done
  fail "/healthz did not answer ok within 60 s"
}

# check_healthcheck runs the image's own HEALTHCHECK (docker: waits for the engine to run it).
check_healthcheck() {
  if [ "$CONTAINER" = podman ]; then
    podman healthcheck run "$NAME" || fail "the HEALTHCHECK command failed"
    return 0
  fi
  local i status
  for i in $(seq 1 60); do
    status=$(docker inspect --format '{{.State.Health.Status}}' "$NAME")
    [ "$status" = healthy ] && return 0
    [ "$status" = unhealthy ] && fail "docker reports the container unhealthy"
    sleep 2
  done
  fail "docker did not report the container healthy within 120 s"
}

# post sends a form with the session cookies and prints the status and the redirect target.
post() {
  local path=$1
  shift
  curl -s -o "$WORK/body" -b "$JAR" -c "$JAR" -w '%{http_code} %{redirect_url}' "$@" "$URL$path"
}

csrf_token() {
  curl -s -b "$JAR" -c "$JAR" "$URL/prompts" | sed -n 's/.*data-csrf="\([^"]*\)".*/\1/p' | head -n 1
}

# login starts a new session (an existing one would ask for its CSRF token).
login() {
  local out
  rm -f "$JAR"
  out=$(post /login -D "$WORK/headers" --data-urlencode "name=$ADMIN" --data-urlencode "password=$PASSWORD")
  [[ $out == 303* ]] || fail "login: got $out"
}

check_setup() {
  say "first-run setup"
  curl -s "$URL/setup" | grep -q 'name="password"' || fail "GET /setup shows no setup form"
  local out
  out=$(post /setup --data-urlencode "name=$ADMIN" --data-urlencode "password=$PASSWORD")
  [[ $out == "303 $URL/prompts" ]] || fail "setup: got $out"
}

# check_import imports the starter sheet through the web form and prints how many prompts came in.
check_import() {
  local token out n
  token=$(csrf_token)
  [ -n "$token" ] || fail "no CSRF token on /prompts"
  out=$(post /prompts/import -F "csrf=$token" -F "file=@data/prompts.csv;type=text/csv")
  n=$(sed -n 's/.*imported=\([0-9]*\).*/\1/p' <<<"$out")
  [ -n "$n" ] && [ "$n" -gt 0 ] || fail "prompt import: got $out"
  echo "$n"
}

# check_chat asks the bundled base model one question and prints the chat's path.
check_chat() {
  local token model out chat
  token=$(csrf_token)
  model=$(curl -s -b "$JAR" "$URL/chat" | sed -n 's/.*<option value="\([0-9]*\)"[^>]*>base<\/option>.*/\1/p' | head -n 1)
  [ -n "$model" ] || fail "the chat page offers no bundled base model"
  out=$(post /chat -F "csrf=$token" -F "question=How do I reverse a Vec<i32> in place in Rust?" \
    -F "model_0=$model" -F "temperature_0=0" -F "max_tokens_0=48")
  chat=$(sed -n 's|^303 '"$URL"'\(/chat/[0-9]*\).*|\1|p' <<<"$out")
  [ -n "$chat" ] || fail "starting a chat: got $out"
  curl -s -N --max-time 300 -b "$JAR" "$URL$chat/stream/0?temperature=0&max_tokens=48" >"$WORK/stream"
  grep -q '^event: done' "$WORK/stream" || fail "no answer from the bundled model: $(head -c 400 "$WORK/stream")"
  grep -A1 '^event: done' "$WORK/stream" | grep -q '"tokens":[1-9]' || fail "the answer has no tokens: $(cat "$WORK/stream")"
  awk '/^event: delta/ {d = 1; next} d && /^data: / {printf "%s%s", (d++ > 1 ? "\n" : ""), substr($0, 7); next} {d = 0}' "$WORK/stream" |
    head -c 300 | sed 's/^/   answer: /' >&2
  echo >&2
  echo "$chat"
}

prompt_count() {
  "$CONTAINER" exec "$NAME" rustexpert prompts export --format jsonl | wc -l
}

main() {
  command -v "$CONTAINER" >/dev/null || fail "no $CONTAINER on PATH (set CONTAINER=docker or podman)"
  trap cleanup EXIT
  [ "${SKIP_BUILD:-0}" = 1 ] || build
  "$CONTAINER" rm -f "$NAME" >/dev/null 2>&1 || true
  "$CONTAINER" volume rm -f "$VOLUME" >/dev/null 2>&1 || true

  say "run $IMAGE on $URL"
  start
  [ "$("$CONTAINER" exec "$NAME" id -u)" = 10001 ] || fail "the server does not run as the rustexpert user"
  check_healthcheck
  check_setup
  local n chat t0
  n=$(check_import)
  say "imported $n prompts"
  t0=$SECONDS
  chat=$(check_chat)
  say "the bundled model answered in $chat ($((SECONDS - t0)) s)"

  say "restart the container"
  "$CONTAINER" restart "$NAME" >/dev/null
  wait_ready
  curl -s -o /dev/null -w '%{redirect_url}' "$URL/setup" | grep -q '/login$' || fail "setup is open again after a restart"
  [ "$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" "$URL$chat")" = 200 ] || fail "the session or the chat is gone after a restart"
  login
  [ "$(prompt_count)" = "$n" ] || fail "prompt count after a restart: $(prompt_count), want $n"

  say "new container on the same volume, with RUSTEXPERT_SECURE_COOKIES=1"
  start -e RUSTEXPERT_SECURE_COOKIES=1
  [ "$(prompt_count)" = "$n" ] || fail "prompt count in a new container: $(prompt_count), want $n"
  login
  grep -i '^set-cookie:' "$WORK/headers" | grep -qi 'secure' || fail "cookies are not Secure: $(grep -i '^set-cookie:' "$WORK/headers")"
  say "ok"
}

main "$@"
