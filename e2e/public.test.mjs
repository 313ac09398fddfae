// Browser test of public mode (`serve --public`) with the bundled models (`make models`): an anonymous
// browser sees the banner naming the models and how they were made, opens a model card, asks in the
// chat and gets an answer from every column, votes in the arena, reads the leaderboard and is sent to
// /login for everything else. A second server runs with the generation gate at its smallest (one
// slot, no queue): the columns that find it taken say the server is busy, and Retry answers them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startApp, launchBrowser, watch } from "./helpers.mjs";

const apps = [];
const dirs = [];
let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const app of apps) app.child.kill("SIGTERM");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// serve starts the app with its own data folder and the extra flags; it returns its base URL.
async function serve(extraArgs) {
  const dir = mkdtempSync(path.join(tmpdir(), "rustexpert-public-e2e-"));
  dirs.push(dir);
  const app = await startApp(dir, extraArgs);
  apps.push(app);
  return app.match;
}

// askAll opens a new chat with the default columns, each writing at most maxTokens, and sends it.
async function askAll(page, question, maxTokens) {
  await page.goto("/chat");
  const columns = await page.$$eval("[data-testid=chat-column-pick]", (els) => els.length);
  for (let i = 0; i < columns; i++) await page.fill(`[data-testid=max-tokens-${i}]`, String(maxTokens));
  await page.fill("[data-testid=question]", question);
  await page.press("[data-testid=question]", "Enter");
  await page.waitForURL(/\/chat\/\d+/);
}

// answered reports whether the column's answer has finished (its meta ends with the token count).
function answered(page, col) {
  return page.$eval(`[data-testid=chat-answer][data-col="${col}"] [data-answer-meta]`,
    (el) => /tokens$/.test(el.textContent.trim()));
}

test("an anonymous visitor sees the model cards, chats, votes and is sent to log in for the rest", { timeout: 300000 }, async () => {
  const baseURL = await serve(["--public"]);

  // An admin exists, so the rest of the app asks for a login (not for the first-run setup).
  const adminContext = await browser.newContext({ baseURL });
  const admin = await adminContext.newPage();
  await admin.goto("/setup");
  await admin.fill("input[name=name]", "alice");
  await admin.fill("input[name=password]", "correct horse battery");
  await admin.click("button[type=submit]");
  await admin.waitForURL(/\/prompts/);
  await adminContext.close();

  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = watch(page);

  // The start page is the chat; the banner names the columns and how each model was made.
  await page.goto("/");
  await page.waitForURL(/\/chat$/);
  assert.equal(await page.textContent("[data-testid=banner-columns]"), "v1 | v2 | base");
  const v2Line = await page.textContent("[data-testid=banner-model][data-model=v2]");
  assert.match(v2Line, /from v1/);
  assert.match(v2Line, /DPO LoRA adapter/);
  assert.ok(await page.$("[data-testid=visitor-note]"), "no guest note");
  assert.equal(await page.$("[data-testid=whoami]"), null);

  // The card is the model's README, rendered.
  await page.click("[data-testid=banner-model][data-model=v1] [data-testid=model-card-link]");
  await page.waitForURL(/\/models\/v1\/card$/);
  assert.match(await page.textContent("[data-testid=model-card-body] h1"), /^v1 — SmolLM2-135M-Instruct/);
  assert.match(await page.textContent("[data-testid=model-card-lineage]"), /from base/);

  // Every column of the bundled models answers.
  await askAll(page, "What is a Rust crate?", 8);
  await page.waitForFunction(() => {
    const metas = [...document.querySelectorAll("[data-testid=chat-answer] [data-answer-meta]")];
    return metas.length === 3 && metas.every((m) => /tokens$/.test(m.textContent.trim()));
  }, null, { timeout: 180000 });
  const texts = await page.$$eval("[data-testid=chat-answer] [data-answer-body]", (els) => els.map((e) => e.textContent.trim()));
  texts.forEach((t, i) => assert.ok(t.length > 0, `column ${i} answered nothing`));
  assert.equal(await page.$("[data-testid=share-form]"), null, "a visitor is offered sharing");
  const chatURL = page.url();

  // Another visitor does not see this chat.
  const other = await browser.newContext({ baseURL });
  const otherPage = await other.newPage();
  const res = await otherPage.goto(chatURL);
  assert.equal(res.status(), 404);
  await other.close();

  // The arena: both answers stream, the key votes, the names show.
  await page.goto("/arena");
  assert.ok(await page.$("[data-testid=model-banner]"), "no banner on the arena");
  await page.fill("[data-testid=arena-question]", "How do I reverse a Vec?");
  await page.click("[data-testid=arena-start]");
  await page.waitForURL(/\/arena\/\d+$/);
  await page.waitForFunction(() => ["a", "b"].every((s) =>
    /tokens$/.test(document.querySelector(`[data-testid=arena-answer-${s}] [data-answer-meta]`).textContent.trim())),
  null, { timeout: 240000 });
  await page.keyboard.press("1");
  await page.waitForFunction(() => document.querySelector("[data-testid=arena-model-a]").textContent.trim() !== "");
  assert.match(await page.textContent("[data-testid=arena-status]"), /Your vote: A is better/);
  await page.goto("/arena/leaderboard");
  assert.ok(await page.$("[data-testid=arena-leaderboard]"), "the leaderboard is not readable");

  // Everything else asks for a login.
  for (const p of ["/prompts", "/generate", "/models", "/eval"]) {
    await page.goto(p);
    await page.waitForURL(/\/login\?next=/);
  }

  assert.deepEqual(errors, []);
  await context.close();
});

test("with one generation slot and no queue, a column says the server is busy and Retry answers it", { timeout: 300000 }, async () => {
  const baseURL = await serve(["--public", "--gen-concurrency", "1", "--gen-queue", "0"]);
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = watch(page);

  await askAll(page, "What does the borrow checker do?", 8);
  await page.waitForSelector("[data-testid=busy-message]", { timeout: 60000 });
  assert.match(await page.textContent("[data-testid=busy-message]"), /The server is busy; try again in 5 s\./);
  assert.ok(await page.$("[data-testid=busy-message] [data-testid=retry]"), "no Retry button");

  // Retry each busy column once the others have finished.
  for (let round = 0; round < 6; round++) {
    await page.waitForFunction(() => !document.querySelector("[data-testid=chat-answer][data-streaming]"), null, { timeout: 180000 });
    const busy = await page.$("[data-testid=chat-answer][data-busy]");
    if (!busy) break;
    const col = await busy.getAttribute("data-col");
    await busy.$eval("[data-testid=retry]", (b) => b.click());
    await page.waitForFunction((c) => {
      const a = document.querySelector(`[data-testid=chat-answer][data-col="${c}"]`);
      return !a.hasAttribute("data-streaming");
    }, col, { timeout: 180000 });
  }
  for (const col of ["0", "1", "2"]) assert.ok(await answered(page, col), `column ${col} never answered`);
  assert.deepEqual(errors, []);
  await context.close();
});
