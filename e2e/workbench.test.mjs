// Browser test of the whole labelling loop, as a new user does it: first-run setup, import the
// starter sheet, register a model, run a generation job, label five prompts with the keyboard
// only, export a DPO snapshot and validate the downloaded file with the CLI.
// Answers come from the bundled model (SmolLM2-135M-Instruct GGUF in models/, fetched by `make models`)
// through the built-in CPU engine. Registering an OpenAI-compatible endpoint is exercised with
// e2e/testmodel, an OpenAI-protocol test stand-in (no model server runs in CI).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { root, bin, start, startApp, launchBrowser } from "./helpers.mjs";

let dataDir, model, app, browser, baseURL, modelURL;

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "rustexpert-e2e-"));
  model = await start(path.join(root, "bin", "testmodel"), ["-addr", "127.0.0.1:0"], /listening on (\S+)/);
  modelURL = model.match;
  app = await startApp(dataDir);
  baseURL = app.match;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  app?.child.kill("SIGTERM");
  model?.child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

test("set up, import, generate, label five prompts by keyboard, export and validate", { timeout: 360000 }, async () => {
  const context = await browser.newContext({ baseURL, acceptDownloads: true });
  const page = await context.newPage();
  const scriptErrors = [];
  page.on("pageerror", (e) => scriptErrors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") scriptErrors.push(m.text()); });
  page.on("response", (r) => { if (r.status() >= 400 && r.status() !== 422) scriptErrors.push(`${r.status()} ${r.url()}`); });

  // First run: the app sends a new user to the setup page.
  await page.goto("/");
  assert.match(page.url(), /\/setup$/);
  await page.fill("input[name=name]", "alice");
  await page.fill("input[name=password]", "correct horse battery");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/prompts/);
  assert.equal(await page.textContent("[data-testid=whoami]"), "alice (admin)");

  // Import the team's starter sheet through the import form.
  await page.click("summary:has-text('Add or import prompts')");
  await page.setInputFiles("[data-testid=import-form] input[type=file]", path.join(root, "data", "prompts.csv"));
  await page.click("[data-testid=import-form] button[type=submit]");
  await page.waitForSelector("[data-testid=import-ok]");
  assert.match(await page.textContent("[data-testid=import-ok]"), /Imported 178 prompts/);

  // Search narrows the grid while typing (HTMX).
  await page.fill("input[name=q]", "E0502");
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=prompt-row]").length < 50);

  // The bundled model was registered on start; loading it shows what the engine read.
  await page.goto("/models");
  const builtin = page.locator("[data-testid=model-row]", { hasText: "built-in CPU engine" });
  const base = builtin.filter({ has: page.locator("td:first-child", { hasText: /^base$/ }) });
  assert.equal(await base.count(), 1);
  // The bundled v1 adapter (models/v1) is registered as trained from base.
  const v1 = builtin.filter({ has: page.locator("td:first-child", { hasText: /^v1$/ }) });
  assert.match(await v1.textContent(), /trained from base/);
  await base.locator("[data-testid=model-check] button").click();
  await page.waitForSelector("[data-testid=model-check-result]:has-text('Loaded')");
  assert.match(await page.textContent("[data-testid=model-check-result]"), /llama, 30 layers, hidden 576.*chatml template/);

  // Register the OpenAI-compatible test stand-in as a second model.
  await page.fill("[data-testid=add-model] input[name=name]", "testmodel");
  await page.fill("[data-testid=add-model] input[name=endpoint]", modelURL);
  await page.click("[data-testid=add-model] button[type=submit]");
  await page.waitForSelector("[data-testid=model-row]:has-text('testmodel')");

  // Two short answers per prompt of the lifetimes category from the bundled model.
  await page.goto("/generate");
  await page.selectOption("[data-testid=model-select]", { label: "base" });
  await page.selectOption("[data-testid=new-job] select[name=category]", "lifetimes");
  await page.selectOption("[data-testid=n-select]", "2");
  await page.fill("input[name=max_tokens_1]", "16");
  await page.fill("input[name=max_tokens_2]", "16");
  await page.click("[data-testid=new-job] button[type=submit]");
  await page.waitForURL(/\/generate\/jobs\/\d+/);
  await page.waitForFunction(() => /succeeded/.test(document.querySelector("[data-testid=job-status]")?.textContent || ""),
    null, { timeout: 180000 });
  assert.match(await page.textContent("[data-testid=job-count]"), /^20\/20/);

  // Label five prompts with the keyboard only: 1 picks answer A as best, Enter submits.
  await page.goto("/annotate");
  for (let i = 0; i < 5; i++) {
    await page.waitForSelector("[data-testid=label-form]");
    const before = page.url();
    await page.keyboard.press(i % 2 === 0 ? "Digit1" : "Digit2");
    await page.keyboard.press("Enter");
    await page.waitForURL((u) => u.toString() !== before);
  }
  await page.waitForSelector("[data-testid=progress-mine]");
  assert.equal((await page.textContent("[data-testid=progress-mine]")).trim(), "5");

  // Export a DPO snapshot and download it.
  await page.goto("/datasets");
  await page.click("[data-testid=dataset-form] button[type=submit]");
  await page.waitForLoadState();
  const created = await page.$("[data-testid=dataset-created]");
  assert.ok(created, "no snapshot created: " + (await page.textContent("main")));
  const heldout = new Set(execFileSync(bin, ["prompts", "export", "--data", dataDir, "--format", "jsonl", "--split", "heldout"],
    { encoding: "utf8" }).trim().split("\n").map((l) => JSON.parse(l).text));
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("[data-testid=download] >> nth=0")]);
  const file = path.join(dataDir, "downloaded.jsonl");
  await download.saveAs(file);
  const rows = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  // One row per labelled pair, except for held-out prompts, which never reach a training file.
  assert.ok(rows.length >= 1 && rows.length <= 5, `${rows.length} rows`);
  for (const r of rows) assert.ok(!heldout.has(r.prompt[0].content), "held-out prompt leaked");
  assert.equal(rows[0].prompt[0].role, "user");
  assert.equal(rows[0].chosen[0].role, "assistant");

  // The CLI validator accepts the file (exit code 0), checking held-out leaks against the database.
  const out = execFileSync(bin, ["dataset", "validate", "--data", dataDir, file], { encoding: "utf8" });
  assert.match(out, new RegExp(`dpo, ${rows.length} rows`));
  assert.deepEqual(scriptErrors, []);
  await context.close();
});
