// Browser test of the face-to-face report (/eval). The data folder is filled through the command line
// only: two eval runs of eval/testdata/multiple_sample.jsonl scored from completions files (the sample's
// right-and-wrong file as it is, and its four wrong answers alone), three prompts answered by two
// generation jobs — one from e2e/testmodel -echo (the answer is the prompt: code that compiles, code that
// does not, no code) and one from the canned e2e/testmodel (a valid Rust function each time) — and their
// compiler checks. Then a user logs in, compares the two runs (pass@1, compile rate, statuses, badges side
// by side), downloads report.md and report.html, and compares the two jobs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { root, bin, start, launchBrowser, watch, startBareApp } from "./helpers.mjs";

const run = promisify(execFile);
const bench = path.join(root, "eval", "testdata", "multiple_sample.jsonl");
const completions = path.join(root, "eval", "testdata", "multiple_completions.jsonl");

// The prompts of the jobs, in import order (ids 1, 2, 3). The echo model answers each with its text.
const PROMPTS = [
  "Why does this compile?\n\n```rust\npub fn double(x: i32) -> i32 {\n    x * 2\n}\n```",
  "Why does this not compile?\n\n```rust\npub fn first(v: &[i32]) -> i32 {\n    v[0] + \"1\"\n}\n```",
  "What does the borrow checker check, in one sentence?",
];

let dataDir, echo, canned, app, browser, baseURL;

// cli runs the app's command line on the test's data folder.
function cli(...args) {
  return run(bin, [...args, "--data", dataDir], { cwd: root, env: { ...process.env, RUSTEXPERT_PASSWORD: "correct horse battery" } });
}

// seedRuns stores run #1 (the sample's file: right answers first, then wrong ones) and run #2 (the wrong
// answers alone).
async function seedRuns() {
  const lines = readFileSync(completions, "utf8").trim().split("\n");
  const wrong = path.join(dataDir, "wrong.jsonl");
  writeFileSync(wrong, lines.slice(4).join("\n") + "\n");
  await cli("eval", "--bench", bench, "--completions", completions, "--name", "mixed", "--run-timeout", "1s");
  await cli("eval", "--bench", bench, "--completions", wrong, "--name", "wrong", "--run-timeout", "1s");
}

// seedJobs registers both stand-ins, imports the prompts, answers them once per model and checks the answers.
async function seedJobs() {
  const sheet = path.join(dataDir, "prompts.jsonl");
  writeFileSync(sheet, PROMPTS.map((text) => JSON.stringify({ text, category: "eval", split: "train" })).join("\n") + "\n");
  await cli("prompts", "import", sheet);
  await cli("models", "add", "echo", "--endpoint", echo.match);
  await cli("models", "add", "canned", "--endpoint", canned.match);
  await cli("generate", "--model", "echo", "--n", "1", "--max-tokens", "256");
  await cli("generate", "--model", "canned", "--n", "1", "--max-tokens", "256");
  await cli("label", "--by", "compiler"); // checks every answer first; with one answer per prompt it labels nothing
}

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "rustexpert-eval-e2e-"));
  const testmodel = path.join(dataDir, "testmodel");
  await run("go", ["build", "-o", testmodel, "./e2e/testmodel"], { cwd: root });
  echo = await start(testmodel, ["-echo", "-addr", "127.0.0.1:0"], /listening on (\S+)/);
  canned = await start(testmodel, ["-addr", "127.0.0.1:0"], /listening on (\S+)/);
  await cli("users", "add", "--admin", "alice");
  await Promise.all([seedRuns(), seedJobs()]);
  app = await startBareApp(dataDir);
  baseURL = app.match;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  app?.child.kill("SIGTERM");
  echo?.child.kill("SIGTERM");
  canned?.child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

// summary reads the summary table's rows as arrays of cell texts.
function summary(page) {
  return page.$$eval("[data-testid=eval-summary-row]", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
}

// badges maps each row's name to the states of its badges, in column order.
function badges(page) {
  return page.$$eval("[data-testid=eval-row]", (rows) => Object.fromEntries(rows.map((r) =>
    [r.dataset.name, [...r.querySelectorAll("[data-testid=eval-badge]")].map((b) => b.dataset.state)])));
}

// download clicks a link and returns the downloaded file's text.
async function download(page, selector, name) {
  const [file] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  assert.equal(file.suggestedFilename(), name);
  const saved = path.join(dataDir, name);
  await file.saveAs(saved);
  return readFileSync(saved, "utf8");
}

test("compare two eval runs and two generation jobs, download the report", { timeout: 120000 }, async () => {
  const context = await browser.newContext({ baseURL, acceptDownloads: true });
  const page = await context.newPage();
  const errors = watch(page);

  await page.goto("/eval");
  assert.match(page.url(), /\/login/);
  await page.fill("input[name=name]", "alice");
  await page.fill("input[name=password]", "correct horse battery");
  await page.click("[data-testid=login-form] button[type=submit]");
  await page.waitForURL(/\/eval$/);

  // The list shows both runs with the pass@1 of their stored summaries.
  const listed = await page.$$eval("[data-testid=eval-run]", (rows) => Object.fromEntries(rows.map((r) =>
    [r.dataset.id, r.querySelector("[data-testid=eval-run-pass1]").textContent.trim()])));
  assert.deepEqual(listed, { 1: "0.500", 2: "0.000" });
  await page.check("input[name=run][value='1']");
  await page.check("input[name=run][value='2']");
  await page.click("[data-testid=eval-compare]");
  await page.waitForSelector("[data-testid=eval-report]");
  // The list is newest first, so the form sends run 2 before run 1 and the columns follow that order.
  assert.match(page.url(), /\/eval\?run=2&run=1$/);

  // Summary: run, model, problems, samples, pass@1, compile rate, lints, statuses, arena rating.
  const rows = await summary(page);
  assert.deepEqual(rows.map((r) => r.slice(0, 6)), [
    ["#2", "wrong", "4", "4", "0.000", "0.500"],
    ["#1", "mixed", "4", "8", "0.500", "0.750"],
  ]);
  assert.equal(rows[0][7], "no_code 1 · compile_error 1 · test_failed 1 · timeout 1");
  assert.equal(rows[1][7], "ok 4 · no_code 1 · compile_error 1 · test_failed 1 · timeout 1");
  assert.equal(rows[0][8], "—");
  assert.equal(await page.$$eval("[data-testid=eval-chart] rect.bar", (els) => els.length), 2 + 4);

  // Side by side: run #1's first samples pass, run #2's fail in four different ways.
  assert.deepEqual(await badges(page), {
    Sample_0_sum_odd_squares: ["test_failed", "ok"],
    Sample_1_count_vowels: ["no_code", "ok"],
    Sample_2_rotate_left: ["compile_error", "ok"],
    Sample_3_balanced_brackets: ["timeout", "ok"],
  });
  const rotate = page.locator("[data-testid=eval-row][data-name=Sample_2_rotate_left]");
  await rotate.locator("summary[data-state=compile_error]").click();
  assert.match(await rotate.locator("[data-testid=eval-detail]").textContent(), /E0599.*no method named `rotate`/);
  assert.match(await rotate.locator("[data-testid=eval-answer]").first().textContent(), /items\.rotate\(k\)/);
  assert.match(await rotate.locator("[data-testid=eval-answer]").last().textContent(), /items\.rotate_left\(k\)/);
  assert.equal(await rotate.locator("[data-testid=eval-answer] pre").count(), 2, "bare code is shown as a code block");

  // report.md: the same table and every answer in a fence.
  const md = await download(page, "[data-testid=eval-export-md]", "eval-report.md");
  assert.match(md, /^# Bench multiple\\_sample \(multipl-e\)/);
  assert.match(md, /\| #1 \| mixed \| 4 \| 8 \| 0\.500 \| 0\.750 \|/);
  assert.match(md, /\| #2 \| wrong \| 4 \| 4 \| 0\.000 \| 0\.500 \|/);
  assert.match(md, /### Sample\\_2\\_rotate\\_left\n\n\*\*#2 wrong\*\*: compile error ✗\n\n```text\nmain\.rs:6:11: error\[E0599\]: no method named `rotate`/);
  assert.match(md, /\*\*#1 mixed\*\*: passed ✓/);
  assert.match(md, /```rust\n {4}items\.rotate\(k\)\n```/);

  // report.html: a standalone page with the table, its CSS inline and no script.
  const html = await download(page, "[data-testid=eval-export-html]", "eval-report.html");
  assert.match(html, /^<!doctype html>/i);
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<link\b/i);
  assert.match(html, /<style>/);
  assert.match(html, /<table class="grid eval-summary"/);
  assert.match(html, /<td>#1<\/td><td>mixed<\/td><td>4<\/td><td>8<\/td><td>0\.500<\/td><td>0\.750<\/td>/);

  // Jobs mode: both jobs on the three prompts they answered, from the compiler's checks.
  await page.click("[data-testid=eval-jobs-mode]");
  await page.waitForURL(/mode=jobs/);
  const jobs = await page.$$eval("[data-testid=eval-job]", (rows) => rows.map((r) => [r.dataset.id, r.cells[2].textContent.trim()]));
  assert.deepEqual(jobs.sort(), [["1", "echo"], ["2", "canned"]]);
  await page.check("input[name=job][value='1']");
  await page.check("input[name=job][value='2']");
  await page.click("[data-testid=eval-compare]");
  await page.waitForSelector("[data-testid=eval-report]");
  assert.match(page.url(), /\/eval\?mode=jobs&job=2&job=1$/);
  assert.match(await page.textContent("[data-testid=eval-report] h2"), /Generation jobs on 3 shared prompts/);
  // Job, model, prompts, answers, checked, with code, compile rate.
  assert.deepEqual((await summary(page)).map((r) => r.slice(0, 7)), [
    ["#2", "canned", "3", "3", "3", "1.000", "1.000"],
    ["#1", "echo", "3", "3", "3", "0.667", "0.500"],
  ]);
  assert.deepEqual(await badges(page), {
    "Prompt #1": ["compiles", "compiles"],
    "Prompt #2": ["compiles", "fails"],
    "Prompt #3": ["compiles", "no-code"],
  });
  const broken = page.locator("[data-testid=eval-row][data-name='Prompt #2']");
  await broken.locator("summary[data-state=fails]").click();
  assert.match(await broken.locator("[data-testid=eval-detail]").textContent(), /^E0277: cannot add `&str` to `i32`/);
  assert.match(await broken.locator(".eval-prompt").textContent(), /v\[0\] \+ "1"/);
  const jobsMd = await download(page, "[data-testid=eval-export-md]", "eval-report.md");
  assert.match(jobsMd, /\| #1 \| echo \| 3 \| 3 \| 3 \| 0\.667 \| 0\.500 \|/);

  assert.deepEqual(errors, []);
  await context.close();
});
