// Browser test of training runs: the new-run form with its defaults and preview, then a run whose
// worker is a STAND-IN (a shell script named by RUSTEXPERT_TRAIN_PYTHON that prints the worker's
// protocol events) followed live to its end: status, step, one chart per metric, the log scale
// toggle, the log tail and the registered model. Then "Estimate first", a saved config loaded back
// into the form, and the model's export downloaded from the run's page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { gunzipSync } from "node:zlib";
import path from "node:path";
import { startApp, launchBrowser, watch } from "./helpers.mjs";

// The stand-in trains four steps, a little apart, so the page sees them arrive; an export writes
// the adapter and the model card.
const STAND_IN = `#!/bin/sh
out=$(sed -n 's/^  "output_dir": "\\(.*\\)",*$/\\1/p' "$5")
mkdir -p "$out"
if [ "$3" = export ]; then
  card=$(sed -n 's/^  "card": "\\(.*\\)",*$/\\1/p' "$5")
  cp "$card" "$out/README.md" && echo '{"r":8}' > "$out/adapter_config.json"
  echo '{"event":"done","output":"'$out'","files":["README.md","adapter_config.json"]}'
  exit 0
fi
echo 'stand-in worker: loading' >&2
echo '{"event":"start","max_steps":4,"resumed_at_step":0,"device":"cpu"}'
for s in 1 2 3 4; do
  sleep 0.4
  echo '{"event":"metric","step":'$s',"metrics":{"loss":0.'$((9 - s))',"grad_norm":'$s'.5,"rewards/margins":-0.'$s'}}'
done
echo '{"r":8}' > "$out/adapter_config.json"
echo '{"event":"done","output":"'$out'","step":4,"metrics":{"train_loss":0.6}}'
`;

let dataDir, app, browser, baseURL;

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "rustexpert-runs-e2e-"));
  const python = path.join(dataDir, "stand-in-python");
  writeFileSync(python, STAND_IN, { mode: 0o755 });
  process.env.RUSTEXPERT_TRAIN_PYTHON = python;
  app = await startApp(dataDir);
  baseURL = app.match;
  browser = await launchBrowser();
  // One SFT snapshot, recorded as the export would record it.
  const q = "What does the ? operator do?";
  const row = { messages: [{ role: "user", content: q }, { role: "assistant", content: "It returns early with the error." }],
    prompt_id: createHash("sha256").update(q).digest("hex"), model: "m", category: "errors" };
  mkdirSync(path.join(dataDir, "datasets"));
  writeFileSync(path.join(dataDir, "datasets", "sft.jsonl"), JSON.stringify(row) + "\n");
  execFileSync("sqlite3", [path.join(dataDir, "rustexpert.db"),
    `INSERT INTO datasets (kind, options_json, stats_json, sha256, rows, path, created_at)
     VALUES ('sft', '{}', '{}', 'x', 1, 'datasets/sft.jsonl', '2025-01-01T00:00:00Z')`]);
});

after(async () => {
  await browser?.close();
  app?.child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

test("start a run, preview its run.json, follow it live to the registered model", { timeout: 120000 }, async () => {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = watch(page);

  await page.goto("/");
  await page.fill("input[name=name]", "alice");
  await page.fill("input[name=password]", "correct horse battery");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/prompts/);

  await page.click("nav >> text=Runs");
  await page.waitForURL(/\/runs$/);
  assert.equal(await page.inputValue("[data-testid=run-learning_rate]"), "0.0002");
  // Switching to DPO reloads the form with DPO defaults; back to SFT for the run.
  await page.selectOption("[data-testid=run-kind]", "dpo");
  await page.waitForSelector("[data-testid=run-beta]");
  assert.equal(await page.inputValue("[data-testid=run-learning_rate]"), "5e-06");
  await page.selectOption("[data-testid=run-kind]", "sft");
  await page.waitForSelector("[data-testid=run-beta]", { state: "detached" });
  await page.selectOption("[data-testid=run-parent]", { label: "base" });
  await page.fill("[data-testid=run-name]", "smol-sft");
  await page.fill("[data-testid=run-max_steps]", "4");

  await page.click("[data-testid=run-preview-button]");
  await page.waitForSelector("[data-testid=preview-json]");
  const preview = JSON.parse(await page.textContent("[data-testid=preview-json]"));
  assert.equal(preview.hyperparameters.max_steps, 4);
  assert.match(preview.model, /SmolLM2-135M-Instruct\.Q4_1\.gguf$/);
  assert.match(await page.textContent("[data-testid=preview-command]"), / -m worker sft --config .*runs\/1\/run\.json$/);

  await page.click("[data-testid=run-start]");
  await page.waitForURL(/\/runs\/1$/);
  // The page follows the run: charts appear as metrics arrive, then it reloads in its final state.
  await page.waitForSelector(".run-chart canvas", { timeout: 30000 });
  await page.waitForFunction(() => document.querySelector("[data-testid=run-status]")?.textContent === "done", null, { timeout: 60000 });
  await page.waitForSelector("[data-testid=run-model]");
  assert.match(await page.textContent("[data-testid=run-model]"), /smol-sft/);
  assert.equal((await page.textContent("[data-testid=run-step]")).trim(), "4/4 (100%)");
  assert.equal(await page.textContent("[data-testid=run-device]"), "cpu");
  await page.waitForFunction(() => document.querySelectorAll(".run-chart canvas").length === 3);
  const charts = await page.$$eval(".run-chart", (els) => els.map((e) => e.dataset.metric));
  assert.deepEqual(charts, ["loss", "rewards/margins", "grad_norm"]);
  await page.check("[data-testid=run-log-scale]");
  await page.waitForFunction(() => document.querySelectorAll(".run-chart canvas").length === 3);
  assert.match(await page.textContent("[data-testid=run-log]"), /stand-in worker: loading/);
  assert.match(await page.textContent("[data-testid=run-final]"), /train_loss/);

  await page.click("nav >> text=Runs");
  assert.match(await page.textContent("[data-testid=run-row]"), /done/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("estimate first, save and load a config, export the trained model", { timeout: 120000 }, async () => {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto("/login");
  await page.fill("input[name=name]", "alice");
  await page.fill("input[name=password]", "correct horse battery");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/prompts/);

  await page.goto("/runs");
  await page.selectOption("[data-testid=run-parent]", { label: "base" });
  await page.fill("[data-testid=run-max_steps]", "8");
  await page.fill("[data-testid=run-gpu-price]", "2");
  await page.click("[data-testid=run-estimate-button]");
  // The box polls itself while the stand-in trains its trial steps, then shows the prediction.
  await page.waitForSelector("[data-testid=estimate-duration]", { timeout: 30000 });
  assert.match(await page.textContent("[data-testid=estimate-duration]"), /\(8 steps\)/);
  assert.match(await page.textContent("[data-testid=estimate-cost]"), /at 2\.00 per GPU hour/);
  assert.match(await page.textContent("[data-testid=estimate-device]"), /cpu, over a 4-step trial/);

  await page.fill("[data-testid=run-config-name]", "eight steps");
  await page.click("[data-testid=run-save-config]");
  await page.waitForSelector("[data-testid=run-form-notice]");
  await page.goto("/runs");
  assert.match(await page.textContent("[data-testid=saved-config-row]"), /eight steps.*max_steps=8/s);
  assert.equal(await page.inputValue("[data-testid=run-max_steps]"), "-1");
  await page.selectOption("[data-testid=run-load-config]", { label: "eight steps (SFT)" });
  await page.waitForSelector("[data-testid=run-config-note]");
  assert.equal(await page.inputValue("[data-testid=run-max_steps]"), "8");

  await page.goto("/runs/1");
  await page.click("[data-testid=export-start]");
  await page.waitForSelector("[data-testid=export-download]", { timeout: 30000 });
  const href = await page.getAttribute("[data-testid=export-download]", "href");
  assert.match(href, /^\/exports\/smol-sft-adapter-\d{8}-\d{6}\.tar\.gz$/);
  const res = await page.request.get(href);
  assert.equal(res.status(), 200);
  const tar = gunzipSync(await res.body()).toString("latin1");
  assert.match(tar, /smol-sft-adapter-\d{8}-\d{6}\/README\.md/);
  assert.match(tar, /base_model: HuggingFaceTB\/SmolLM2-135M-Instruct/);
  assert.deepEqual(errors, []);
  await context.close();
});
