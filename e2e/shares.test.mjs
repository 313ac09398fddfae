// Browser test of read-only share links: the admin shares the arena leaderboard and a training run page
// from their share boxes, a fresh browser without login opens both read only (no forms, no live run
// script, static charts), the admin revokes the run's link on the link page (reached from the nav),
// and the fresh browser then gets the 410 page while the leaderboard link keeps working. Battles and
// the run are stored rows (written with sqlite3), so no model or training worker is needed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { launchBrowser, watch, startBareApp } from "./helpers.mjs";

let dataDir, app, browser, baseURL;

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "rustexpert-shares-e2e-"));
  app = await startBareApp(dataDir);
  baseURL = app.match;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  app?.child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

// seed stores three counted battles (alpha beats beta twice, loses once) and a finished run with a
// loss curve, as the app would have stored them.
function seed() {
  const at = "2025-01-02T03:04:05Z";
  const battles = [["a", "alpha", "beta"], ["a", "alpha", "beta"], ["b", "alpha", "beta"]].map(([vote, a, b], i) =>
    `INSERT INTO arena_battles (user_id, question, category, model_a, model_b, answer_a, answer_b, finish_a, finish_b, vote, voted_at, created_at)
     VALUES (1, 'What is a borrow ${i}?', 'open', '${a}', '${b}', 'x', 'y', 'stop', 'stop', '${vote}', '${at}', '${at}');`);
  const metrics = [[1, 0.69], [2, 0.52], [3, 0.41]].map(([step, v]) =>
    `INSERT INTO run_metrics (run_id, name, step, value) VALUES (7, 'loss', ${step}, ${v});`);
  execFileSync("sqlite3", [path.join(dataDir, "rustexpert.db"), [
    ...battles,
    `INSERT INTO runs (id, kind, name, config_json, status, created_at, started_at, finished_at, step, max_steps, metrics_json, device)
     VALUES (7, 'sft', 'v1', '{"model": "/srv/private/base.gguf"}', 'done', '${at}', '${at}', '${at}', 3, 3, '{"train_loss": 0.54}', 'cpu');`,
    ...metrics,
  ].join("\n")]);
}

// share clicks a page's share button with the expiry and returns the link the box then shows.
async function share(page, expires) {
  await page.selectOption("[data-testid=share-expires]", expires);
  await page.click("[data-testid=share-create]");
  await page.waitForSelector("[data-testid=share-link]");
  return page.getAttribute("[data-testid=share-link]", "href");
}

// readOnly asserts that a shared page has no form, control, live run script or session nav.
async function readOnly(page) {
  assert.equal(await page.$$eval("form, input, textarea, select, button", (els) => els.length), 0);
  assert.equal(await page.$$eval("script[src*='runs.js'], script[src*='uPlot']", (els) => els.length), 0);
  assert.equal(await page.$("[data-testid=whoami]"), null);
  const links = await page.$$eval("a[href]", (els) => els.map((a) => a.getAttribute("href")));
  assert.deepEqual(links.filter((h) => h.startsWith("/") && h !== "/"), []);
}

test("share the leaderboard and a run, open them without login, revoke one", { timeout: 120000 }, async () => {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = watch(page);

  await page.goto("/");
  assert.match(page.url(), /\/setup$/);
  await page.fill("input[name=name]", "alice");
  await page.fill("input[name=password]", "correct horse battery");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/prompts/);
  seed();

  await page.goto("/arena/leaderboard");
  assert.equal(await page.$$eval("[data-testid=arena-row]", (els) => els.length), 2);
  const boardLink = await share(page, "7d");
  assert.match(boardLink, /^\/s\/[\w-]{32}$/);
  assert.match(await page.textContent("[data-testid=share-link-expires]"), /expires \d{4}-\d\d-\d\d \d\d:\d\d/);

  await page.goto("/runs/7");
  const runLink = await share(page, "never");
  assert.match(runLink, /^\/s\/[\w-]{32}$/);
  assert.notEqual(runLink, boardLink);

  // A browser that never logged in opens both, read only.
  const stranger = await browser.newContext({ baseURL });
  const view = await stranger.newPage();
  const viewErrors = watch(view);
  let res = await view.goto(boardLink);
  assert.equal(res.status(), 200);
  assert.deepEqual(await view.$$eval("[data-testid=arena-row-model]", (els) => els.map((e) => e.textContent)), ["alpha", "beta"]);
  await readOnly(view);
  res = await view.goto(runLink);
  assert.equal(res.status(), 200);
  assert.equal(await view.textContent("[data-testid=run-status]"), "done");
  assert.equal(await view.getAttribute("[data-testid=run-static-chart]", "data-metric"), "loss");
  assert.equal((await view.getAttribute("[data-testid=run-chart-line]", "points")).trim().split(/\s+/).length, 3);
  assert.ok(!(await view.content()).includes("/srv/private"), "the shared run page shows its run.json");
  await readOnly(view);
  assert.deepEqual(viewErrors, []);

  // The admin finds the link page in the nav and revokes the run's link.
  await page.click("nav >> text=Share links");
  await page.waitForURL(/\/shares$/);
  const row = page.locator("[data-testid=share-row]", { has: page.locator(`a[href="${runLink}"]`) });
  assert.equal(await row.getAttribute("data-state"), "live");
  assert.match(await row.locator("[data-testid=share-views]").textContent(), /^\s*1\b/);
  await row.locator("[data-testid=share-revoke] button").click();
  await page.waitForURL(/\/shares$/);
  const revoked = page.locator("[data-testid=share-row]", { has: page.locator(`a[href="${runLink}"]`) });
  assert.equal(await revoked.getAttribute("data-state"), "revoked");
  assert.equal(await revoked.locator("[data-testid=share-revoke]").count(), 0);
  assert.deepEqual(errors, []);

  // The fresh browser now gets the 410 page for the run, and the leaderboard still.
  res = await view.goto(runLink);
  assert.equal(res.status(), 410);
  assert.equal(await view.getAttribute("[data-testid=share-gone]", "data-state"), "revoked");
  assert.match(await view.textContent("[data-testid=share-gone]"), /revoked on \d{4}-\d\d-\d\d \d\d:\d\d/);
  res = await view.goto(boardLink);
  assert.equal(res.status(), 200);

  await stranger.close();
  await context.close();
});
