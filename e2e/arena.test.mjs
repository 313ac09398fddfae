// Browser test of the blind arena: two models registered on e2e/testmodel (the OpenAI-protocol test
// stand-in) battle over a typed question; both answers stream in without names, the keyboard votes,
// the names show, and the leaderboard lists both models. The app starts with an empty models folder,
// so the pool is exactly the two stand-ins.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { root, bin, start, launchBrowser, watch, startBareApp } from "./helpers.mjs";

let dataDir, model, app, browser, baseURL, modelURL;

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "rustexpert-arena-e2e-"));
  model = await start(path.join(root, "bin", "testmodel"), ["-addr", "127.0.0.1:0"], /listening on (\S+)/);
  modelURL = model.match;
  app = await startBareApp(dataDir);
  baseURL = app.match;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  app?.child.kill("SIGTERM");
  model?.child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

test("battle two stand-in models, vote by key, see the names and the leaderboard", { timeout: 120000 }, async () => {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = watch(page);

  await page.goto("/");
  assert.match(page.url(), /\/setup$/);
  await page.fill("input[name=name]", "alice");
  await page.fill("input[name=password]", "correct horse battery");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/prompts/);

  // Two contestants, both the stand-in server under different names.
  await page.goto("/models");
  for (const name of ["alpha", "beta"]) {
    await page.fill("[data-testid=add-model] input[name=name]", name);
    await page.fill("[data-testid=add-model] input[name=endpoint]", modelURL);
    await page.click("[data-testid=add-model] button[type=submit]");
    await page.waitForSelector(`[data-testid=model-row]:has-text('${name}')`);
  }

  await page.click("nav >> text=Arena");
  await page.waitForURL(/\/arena$/);
  assert.match(await page.textContent("[data-testid=arena-page]"), /of 2 contestants/);
  await page.fill("[data-testid=arena-question]", "How do I reverse the words of a string?");
  await page.click("[data-testid=arena-start]");
  await page.waitForURL(/\/arena\/\d+$/);

  // The names stay hidden while the answers stream; voting opens when both are in.
  assert.equal((await page.textContent("[data-testid=arena-model-a]")).trim(), "");
  assert.equal((await page.textContent("[data-testid=arena-model-b]")).trim(), "");
  await page.waitForFunction(() => ["a", "b"].every((s) =>
    /tokens$/.test(document.querySelector(`[data-testid=arena-answer-${s}] [data-answer-meta]`).textContent.trim())),
  null, { timeout: 60000 });
  for (const side of ["a", "b"]) {
    const text = (await page.textContent(`[data-testid=arena-answer-${side}] [data-answer-body]`)).trim();
    assert.match(text, /Take #\d+/, `answer ${side}: ${text}`);
    assert.ok(await page.$(`[data-testid=arena-answer-${side}] [data-answer-body] pre`), `answer ${side} has no rendered code block`);
  }
  assert.equal(await page.isEnabled("[data-testid=vote-a]"), true);
  assert.doesNotMatch(await page.content(), /\b(alpha|beta)\b/);

  // Key 1 votes "A is better"; the names show.
  await page.keyboard.press("1");
  await page.waitForFunction(() => document.querySelector("[data-testid=arena-model-a]").textContent.trim() !== "");
  const a = (await page.textContent("[data-testid=arena-model-a]")).trim();
  const b = (await page.textContent("[data-testid=arena-model-b]")).trim();
  assert.deepEqual([a, b].sort(), ["alpha", "beta"]);
  assert.match(await page.textContent("[data-testid=arena-status]"), /Your vote: A is better\./);
  assert.equal(await page.isEnabled("[data-testid=vote-b]"), false);

  // A reload keeps the names; the leaderboard has A first with one battle each.
  await page.reload();
  assert.equal((await page.textContent("[data-testid=arena-model-a]")).trim(), a);
  await page.click("[data-testid=leaderboard-link]");
  await page.waitForURL(/\/arena\/leaderboard$/);
  const rows = await page.$$eval("[data-testid=arena-row]", (trs) => trs.map((tr) => ({
    model: tr.dataset.model, battles: tr.querySelector("[data-testid=arena-row-battles]").textContent.trim(),
  })));
  assert.deepEqual(rows, [{ model: a, battles: "1" }, { model: b, battles: "1" }]);
  assert.equal(await page.$$eval("[data-testid=arena-win-matrix] td.wf-9", (tds) => tds.length), 1);

  assert.deepEqual(errors, []);
  await context.close();
});
