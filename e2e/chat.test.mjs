// Browser test of the side-by-side chat: first-run setup, a two-turn chat with the bundled model
// (SmolLM2-135M-Instruct GGUF in models/, fetched by `make models`) streaming into its column, then
// Save gives a read-only link that opens without logging in. Each answer gets its compiler badge
// (when rustc is installed) and each column says how it was sampled, live, after a reload and on
// the link.
import { execFileSync } from "node:child_process";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startApp, launchBrowser, watch } from "./helpers.mjs";

let dataDir, app, browser, baseURL;

// hasRustc: the server checks answers only with a Rust toolchain.
const hasRustc = (() => {
  try {
    execFileSync("rustc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const badgeStates = ["compiles", "fails", "timeout", "no-code"];

// badgeOf waits for the first answer's badge to replace its placeholder and returns its state.
async function badgeOf(page) {
  const badge = await page.waitForSelector("[data-testid=exchange] [data-testid=chat-check]:not([data-state=pending]) [data-testid=check]",
    { timeout: 60000 });
  return badge.getAttribute("data-state");
}

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "rustexpert-chat-e2e-"));
  app = await startApp(dataDir);
  baseURL = app.match;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  app?.child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

// waitForAnswers waits until the last exchange's answers are written and returns their texts.
async function waitForAnswers(page, exchanges) {
  await page.waitForFunction((n) => {
    const all = document.querySelectorAll("[data-testid=exchange]");
    if (all.length !== n) return false;
    const answers = all[n - 1].querySelectorAll("[data-testid=chat-answer]");
    return answers.length > 0 && [...answers].every((a) => /tokens$/.test(a.querySelector("[data-answer-meta]").textContent.trim()));
  }, exchanges, { timeout: 120000 });
  return page.$$eval("[data-testid=exchange]:last-child [data-answer-body]", (els) => els.map((e) => e.textContent.trim()));
}

test("chat with the bundled model over two turns, save and open the read-only link", { timeout: 300000 }, async () => {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = watch(page);

  await page.goto("/");
  assert.match(page.url(), /\/setup$/);
  await page.fill("input[name=name]", "alice");
  await page.fill("input[name=password]", "correct horse battery");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/prompts/);

  // The bundled models: v1 (SFT) and v2 (DPO) come first, then base.
  await page.click("nav >> text=Chat");
  await page.waitForURL(/\/chat$/);
  assert.equal(await page.$eval("[data-testid=model-0]", (s) => s.selectedOptions[0].textContent), "v1");
  assert.equal(await page.$eval("[data-testid=model-1]", (s) => s.selectedOptions[0].textContent), "v2");
  assert.equal(await page.$eval("[data-testid=model-2]", (s) => s.selectedOptions[0].textContent), "base");
  // This chat asks base alone.
  await page.selectOption("[data-testid=model-0]", { label: "base" });
  await page.selectOption("[data-testid=model-1]", "");
  await page.selectOption("[data-testid=model-2]", "");
  await page.fill("[data-testid=max-tokens-0]", "12");
  await page.fill("[data-testid=question]", "What is a Rust crate?");
  await page.press("[data-testid=question]", "Enter");
  await page.waitForURL(/\/chat\/\d+/);
  assert.equal(await page.textContent("[data-testid=column-model]"), "base");
  const [first] = await waitForAnswers(page, 1);
  assert.ok(first.length > 0, "the first answer is empty");
  assert.match(await page.textContent("[data-testid=answer-meta]"), /^(stop|length) · \d+ tokens$/);
  assert.equal(await page.textContent("[data-testid=column-sampling]"), "t=0.7 · 12 tokens");
  // The badge comes after the answer (the bundled model's few tokens are most likely prose or do not compile).
  let badge = "";
  if (hasRustc) {
    badge = await badgeOf(page);
    assert.ok(badgeStates.includes(badge), `badge state ${badge}`);
  }

  // Shift+Enter writes a new line; Enter sends the second question, answered below the first.
  await page.fill("[data-testid=question]", "Name one.");
  await page.press("[data-testid=question]", "Shift+Enter");
  await page.type("[data-testid=question]", "Just one.");
  assert.equal(await page.inputValue("[data-testid=question]"), "Name one.\nJust one.");
  await page.press("[data-testid=question]", "Enter");
  const [second] = await waitForAnswers(page, 2);
  assert.ok(second.length > 0, "the second answer is empty");
  assert.equal(await page.inputValue("[data-testid=question]"), "");

  // Opened again (without the new-chat form's settings in the address), the stored badge and
  // settings are there at once.
  await page.goto(new URL(page.url()).pathname);
  assert.equal(await page.textContent("[data-testid=column-sampling]"), "t=0.7 · 12 tokens");
  assert.equal(await page.inputValue("[data-testid=max-tokens-0]"), "12");
  if (hasRustc) {
    assert.equal(await page.getAttribute("[data-testid=exchange] [data-testid=chat-check]", "data-state"), badge);
  }
  assert.equal((await page.textContent("[data-testid=exchange]:last-child [data-testid=chat-question]")).trim(),
    "Name one.\nJust one.");

  // Save gives a read-only link that opens without logging in.
  await page.click("[data-testid=save]");
  await page.waitForSelector("[data-testid=share-link]");
  const link = await page.getAttribute("[data-testid=share-link]", "href");
  assert.match(link, /^\/share\/chat\/[\w-]+$/);
  const stranger = await browser.newContext({ baseURL });
  const shared = await stranger.newPage();
  const sharedErrors = watch(shared);
  await shared.goto(link);
  assert.equal(await shared.$$eval("[data-testid=exchange]", (els) => els.length), 2);
  assert.equal(await shared.$$eval("form, textarea, [data-pending]", (els) => els.length), 0);
  assert.equal((await shared.textContent("[data-testid=exchange] [data-answer-body]")).trim(), first);
  assert.equal(await shared.$("[data-testid=whoami]"), null);
  assert.equal(await shared.textContent("[data-testid=column-sampling]"), "t=0.7 · 12 tokens");
  assert.equal(await shared.$$eval("[hx-get]", (els) => els.length), 0);
  if (hasRustc) {
    assert.equal(await shared.getAttribute("[data-testid=exchange] [data-testid=check]", "data-state"), badge);
  }

  assert.deepEqual(errors, []);
  assert.deepEqual(sharedErrors, []);
  await stranger.close();
  await context.close();
});
