// Browser test of the docs sources page (/rag/sources): the admin reaches it from the search page,
// ingests the Book pages of rag/testdata (the html root, as rustup lays it out), sees the bar full and
// the counts, and re-ingests to see the page reported unchanged; then ingests a generated folder of
// Markdown pages big enough that the bar is usually seen moving over the websocket before the
// finished report replaces it. No model is needed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { root, launchBrowser, watch, startBareApp } from "./helpers.mjs";

const PAGES = 1200; // Markdown pages of the generated folder

let dataDir, app, browser, baseURL;

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "rustexpert-ingest-e2e-"));
  app = await startBareApp(dataDir);
  baseURL = app.match;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  app?.child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

// markdownFolder writes PAGES small Markdown pages, each its own document.
function markdownFolder() {
  const dir = path.join(dataDir, "tokio-pages");
  mkdirSync(dir);
  for (let i = 0; i < PAGES; i++) {
    writeFileSync(path.join(dir, `page-${String(i).padStart(4, "0")}.md`),
      `# Page ${i}\n\nSpawning task number ${i} with \`tokio::spawn\` moves its future to the runtime.\n\n` +
      "```rust\ntokio::spawn(async move { process(socket).await });\n```\n");
  }
  return dir;
}

const row = (page, source) => page.locator(`[data-testid=rag-source][data-source="${source}"]`);
const text = async (loc) => (await loc.textContent()).trim();

// finishedBar waits for a source's task to be shown finished and returns its bar's value and max.
async function finishedBar(page, source) {
  const task = row(page, source).locator("[data-testid=rag-task][data-running=false]");
  await task.waitFor({ timeout: 60000 });
  const bar = task.locator("progress");
  return { value: Number(await bar.getAttribute("value")), max: Number(await bar.getAttribute("max")),
    percent: await text(task.locator("[data-field=percent]")) };
}

test("ingest the Book test pages, re-ingest them unchanged, watch a bigger ingest", { timeout: 180000 }, async () => {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = watch(page);

  await page.goto("/");
  assert.match(page.url(), /\/setup$/);
  await page.fill("input[name=name]", "alice");
  await page.fill("input[name=password]", "correct horse battery");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/prompts/);

  await page.goto("/rag");
  await page.click("[data-testid=rag-sources-link]");
  await page.waitForURL(/\/rag\/sources$/);
  const book = row(page, "book");
  assert.equal(await text(book.locator("[data-testid=rag-documents]")), "0");
  assert.equal(await text(book.locator("[data-testid=rag-ingest]")), "Ingest");

  // The html root stands for its book folder.
  await book.locator("[data-testid=rag-folder]").fill(path.join(root, "rag", "testdata", "html"));
  await book.locator("[data-testid=rag-ingest]").click();
  let bar = await finishedBar(page, "book");
  assert.equal(bar.value, 2);
  assert.equal(bar.max, 2);
  assert.equal(bar.percent, "100");
  assert.equal(await text(book.locator("[data-testid=rag-documents]")), "1");
  assert.notEqual(await text(book.locator("[data-testid=rag-chunks]")), "0");
  assert.match(await text(book.locator("[data-testid=rag-report-summary]")), /^1 new · 0 changed · 0 unchanged · 0 removed · 1 skipped$/);
  await book.locator("[data-testid=rag-report-summary]").click();
  assert.match(await text(book.locator("[data-testid=rag-skip]")), /ch17-00-oop\.html: redirect page/);
  assert.equal(await book.locator("[data-testid=rag-folder]").inputValue(), path.join(root, "rag", "testdata", "html", "book"));

  // Re-ingest: nothing changed, nothing is written.
  assert.equal(await text(book.locator("[data-testid=rag-ingest]")), "Re-ingest");
  await book.locator("[data-testid=rag-ingest]").click();
  await page.waitForFunction(() => {
    const s = document.querySelector('[data-source="book"] [data-testid=rag-report-summary]');
    return s && /0 new · 0 changed · 1 unchanged/.test(s.textContent);
  }, null, { timeout: 60000 });
  bar = await finishedBar(page, "book");
  assert.equal(bar.value, bar.max);
  assert.match(await text(book.locator("[data-testid=rag-task-summary]")), /1 unchanged \(not touched\)/);
  assert.match(await text(book.locator("[data-testid=rag-report-unchanged]")), /^1 \(same content hash: not touched\)$/);
  assert.equal(await text(book.locator("[data-testid=rag-documents]")), "1");

  // A bigger folder: when the page comes back while the ingest runs, the bar moves without a reload
  // and the finished report then replaces it.
  const tokio = row(page, "tokio");
  await tokio.locator("[data-testid=rag-folder]").fill(markdownFolder());
  await tokio.locator("[data-testid=rag-ingest]").click();
  await page.waitForURL(/\/rag\/sources$/);
  const running = tokio.locator("[data-testid=rag-task][data-running=true]");
  if (await running.count() > 0) {
    // The box may be replaced by the finished one at any moment: read it whichever it is by now.
    const first = Number(await text(tokio.locator("[data-testid=rag-task] [data-field=done]")));
    await page.waitForFunction((n) => {
      const t = document.querySelector('[data-source="tokio"] [data-testid=rag-task]');
      return t && (Number(t.querySelector("[data-field=done]").textContent) > n || t.dataset.running === "false");
    }, first, { timeout: 60000 });
  } else {
    console.log("note: the ingest had finished before the page loaded; the live bar was not seen");
  }
  await tokio.locator("[data-testid=rag-report]").waitFor({ timeout: 60000 });
  bar = await finishedBar(page, "tokio");
  assert.equal(bar.value, PAGES);
  assert.equal(bar.max, PAGES);
  assert.equal(await text(tokio.locator("[data-testid=rag-documents]")), String(PAGES));
  assert.match(await text(tokio.locator("[data-testid=rag-report-summary]")), new RegExp(`^${PAGES} new · 0 changed`));

  assert.deepEqual(errors, []);
  await context.close();
});
