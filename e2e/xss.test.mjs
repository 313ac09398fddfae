// Browser test of output escaping: a corpus of XSS payloads (e2e/xss-payloads.txt) goes through every place that
// shows user text or model output — prompt text, category and tags (grid and cell editor), the generation job page
// and the focus view (answers = payloads, from e2e/testmodel -echo, which answers with the question verbatim),
// label rationales on /review, the guidelines, chat answers and the shared read-only chat, arena answers and the
// revealed names, Markdown docs ingested with `rustexpert rag ingest` (on /rag and as chat sources), model names
// and served names on /models, run names and errors on /runs — and checks that Chromium runs none of them.
//
// The browser contexts bypass the page's Content-Security-Policy, so the test checks the escaping and the
// sanitizer themselves, not the CSP behind them. A payload counts as executed when it calls __xss(N) (defined by
// the test in every frame), opens a dialog, requests https://xss.invalid/… or makes htmx GET /logout. Each page is
// also audited: no on* attribute, no javascript:/data:/vbscript: URL, no script, frame, object, embed, base, meta
// refresh or style element and no hx-* attribute carrying a payload anywhere in the document.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { root, bin, start, launchBrowser } from "./helpers.mjs";

const BEGIN = "XSS corpus begins.";
const END = "XSS corpus ends.";

// payloads reads the corpus: one payload a line, "\n" written as a backslash and n, "// " comments.
function payloads() {
  return readFileSync(path.join(root, "e2e", "xss-payloads.txt"), "utf8").split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("// ")).map((l) => l.replaceAll("\\n", "\n"));
}

const corpus = payloads();
// The whole corpus as one text, each payload its own Markdown paragraph, between two sentinels.
const batch = [BEGIN, ...corpus, END].join("\n\n");

let dataDir, model, app, browser, baseURL, modelURL;

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "rustexpert-xss-e2e-"));
  const noModels = path.join(dataDir, "no-models");
  mkdirSync(noModels);
  // Markdown docs full of payloads, titles included, for the tokio source.
  const docs = path.join(dataDir, "tokio-docs");
  mkdirSync(path.join(docs, "tutorial"), { recursive: true });
  writeFileSync(path.join(docs, "tutorial", "xss.md"),
    `# Tokio <img src=x onerror=__xss(70)> corpus\n\n${batch}\n\n## Spawning <script>__xss(71)</script> [x](javascript:__xss(72))\n\n${batch}\n`);
  execFileSync(bin, ["rag", "ingest", "--data", dataDir, "--source", "tokio", "--dir", docs], { stdio: "pipe" });
  execFileSync("go", ["build", "-o", path.join(root, "bin", "testmodel"), "./e2e/testmodel"], { cwd: root, stdio: "pipe" });
  model = await start(path.join(root, "bin", "testmodel"), ["-echo", "-addr", "127.0.0.1:0"], /listening on (\S+)/);
  modelURL = model.match;
  app = await start(bin, ["serve", "--data", dataDir, "--models", noModels, "--addr", "127.0.0.1:0"], /url=(http:\/\/\S+)/);
  baseURL = app.match;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  app?.child.kill("SIGTERM");
  model?.child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

// detector opens a context that records every sign of an executed payload in hits.
async function detector(hits) {
  const context = await browser.newContext({ baseURL, bypassCSP: true });
  await context.exposeFunction("__xssReport", (n, where) => hits.push(`__xss(${n}) ran on ${where}`));
  await context.addInitScript(() => {
    window.__xss = (n) => window.__xssReport(String(n), location.href);
  });
  context.on("request", (r) => {
    const u = new URL(r.url());
    if (u.hostname === "xss.invalid") hits.push(`request to ${r.url()} from ${r.frame()?.url()}`);
    if (u.pathname === "/logout" && r.method() === "GET") hits.push(`GET /logout from ${r.frame()?.url()}`);
  });
  context.on("page", (page) => watchPage(page, hits));
  return context;
}

function watchPage(page, hits) {
  page.on("dialog", (d) => { hits.push(`dialog "${d.message()}" on ${page.url()}`); d.dismiss().catch(() => {}); });
  page.on("pageerror", (e) => hits.push(`script error on ${page.url()}: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") hits.push(`console error on ${page.url()}: ${m.text()}`); });
  page.on("framenavigated", (f) => {
    if (f !== page.mainFrame() && /^(javascript|data):/i.test(f.url())) hits.push(`frame navigated to ${f.url()}`);
  });
}

// audit lists what in the page's document a payload may have smuggled in.
function audit() {
  const bad = [];
  const show = (el) => el.outerHTML.slice(0, 200);
  const urlAttrs = new Set(["href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "lowsrc", "ping", "srcset"]);
  // ours reports whether a URL is one of the app's static files (its scripts and style sheets).
  const ours = (u) => {
    try { return new URL(u).origin === location.origin && new URL(u).pathname.startsWith("/static/"); } catch { return false; }
  };
  const scheme = (v) => v.replace(/[\u0000-\u0020]/g, "").toLowerCase();
  for (const el of document.querySelectorAll("*")) {
    const tag = el.localName;
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      if (name.startsWith("on")) bad.push(`event handler ${name}: ${show(el)}`);
      if (name === "srcdoc") bad.push(`srcdoc: ${show(el)}`);
      if (urlAttrs.has(name) && /^(javascript|vbscript|data):/.test(scheme(a.value))) bad.push(`${name} URL: ${show(el)}`);
      // The corpus's htmx payloads reach xss.invalid, /logout or __xss(); a bare "xss" would also match the
      // random CSRF token in the body's hx-headers now and then.
      if ((name.startsWith("hx-") || name.startsWith("data-hx-")) && /xss\.invalid|__xss|\/logout/i.test(a.value)) bad.push(`htmx ${name}: ${show(el)}`);
      if (name.startsWith("hx-on") || name.startsWith("data-hx-on")) bad.push(`htmx ${name}: ${show(el)}`);
      if (name === "style" && /xss|url\(|expression/i.test(a.value)) bad.push(`style: ${show(el)}`);
    }
    if (tag === "a" && el.hasAttribute("href") && !/^(https?|mailto):$/.test(el.protocol)) bad.push(`link ${el.protocol}: ${show(el)}`);
    if (tag === "script" && !ours(el.src)) bad.push(`script: ${show(el)}`);
    if (["iframe", "frame", "object", "embed", "base", "applet"].includes(tag)) bad.push(`${tag}: ${show(el)}`);
    if (tag === "meta" && el.httpEquiv) bad.push(`meta http-equiv: ${show(el)}`);
    if (tag === "style" && el.closest("body")) bad.push(`style in body: ${show(el)}`);
    if (tag === "link" && !ours(el.href)) bad.push(`link: ${show(el)}`);
    if (tag === "img" && /xss/.test(el.getAttribute("src") || "")) bad.push(`img: ${show(el)}`);
  }
  return bad;
}

// check waits for the page to settle (load events, htmx triggers, autofocus), then fails on any sign of a run
// payload or of smuggled markup, and on a page that does not show the expected text.
async function check(page, hits, what, expect = []) {
  await page.waitForLoadState("networkidle");
  await page.waitForTimeout(150);
  assert.deepEqual(hits, [], `${what}: payloads ran`);
  const bad = await page.evaluate(audit);
  assert.deepEqual(bad, [], `${what}: markup from the corpus in ${page.url()}`);
  const text = await page.textContent("body");
  for (const e of expect) assert.ok(text.includes(e), `${what}: ${page.url()} does not show ${JSON.stringify(e)}`);
}

// form posts fields as the page's user with its CSRF token and fails on an error status.
async function form(page, url, fields) {
  const csrf = await page.getAttribute("body", "data-csrf");
  const res = await page.request.post(url, { form: { csrf, ...fields }, headers: { "X-CSRF-Token": csrf }, maxRedirects: 0 });
  assert.ok(res.status() < 400, `POST ${url}: ${res.status()} ${await res.text()}`);
  return res;
}

// sql runs statements on the app's database, as the runs test seeds a dataset.
function sql(statement) {
  execFileSync("sqlite3", [path.join(dataDir, "rustexpert.db"), statement]);
}

const quote = (s) => `'${s.replaceAll("'", "''")}'`;

test("the detector catches a payload that runs", async () => {
  const hits = [];
  const context = await detector(hits);
  const page = await context.newPage();
  await page.goto("/healthz");
  // The body carries a CSRF token that happens to spell "Xss", as the app's random ones now and then do.
  await page.setContent(`<body hx-headers='{"X-CSRF-Token":"a1XssB2"}' data-csrf="a1XssB2"><img src=x onerror=__xss(0)>` +
    `<a href="javascript:1">x</a><div hx-get="https://xss.invalid/34">hx</div><div hx-post=/logout>hx</div></body>`);
  await page.waitForTimeout(200);
  // (The img's own 404 shows as a console error too.)
  assert.deepEqual(hits.filter((h) => h.startsWith("__xss")).map((h) => h.split(" ran")[0]), ["__xss(0)"]);
  const found = await page.evaluate(audit);
  assert.ok(found.some((f) => f.startsWith("event handler onerror")), found.join("; "));
  assert.ok(found.some((f) => f.startsWith("link javascript:")), found.join("; "));
  assert.equal(found.filter((f) => /^htmx hx-(get|post):/.test(f)).length, 2, found.join("; "));
  assert.ok(!found.some((f) => f.startsWith("htmx hx-headers")), found.join("; "));
  await context.close();
});

test("no XSS payload runs wherever user text or model output is shown", { timeout: 120000 }, async () => {
  assert.ok(corpus.length >= 40, `${corpus.length} payloads`);
  const hits = [];
  const context = await detector(hits);
  const page = await context.newPage();

  await page.goto("/");
  await page.fill("input[name=name]", "alice");
  await page.fill("input[name=password]", "correct horse battery");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/prompts/);

  // Two echoing models; the second one's name and served name carry payloads (model notes are shown nowhere).
  const evilName = "{{constructor.constructor(__xss)(80)}}";
  await page.goto("/models");
  await form(page, "/models", { name: "echo", endpoint: modelURL });
  await form(page, "/models", { name: evilName, endpoint: modelURL, served_name: `<img src=x onerror=__xss(81)>"><script>__xss(81)</script>` });
  sql(`INSERT INTO runs (kind, name, config_json, status, created_at, error)
       VALUES ('sft', ${quote(`<svg onload=__xss(83)>`)}, '{}', 'failed', '2025-01-01T00:00:00Z', ${quote(batch)})`);
  await page.goto("/models");
  await check(page, hits, "/models", [evilName, "__xss(81)"]);
  await page.goto("/runs");
  await check(page, hits, "/runs");
  await page.goto("/runs/1");
  await check(page, hits, "run page", ["<svg onload=__xss(83)>"]);

  // A prompt made of the whole corpus, with payloads as category and tags.
  const category = `<img src=x onerror=__xss(84)>"'><script>__xss(84)</script>`;
  await page.goto("/prompts");
  await form(page, "/prompts", { text: batch, category, tags: `xsscorpus, <svg onload=__xss(85)>, javascript:__xss(85)`, split: "train" });
  await page.goto("/prompts?tag=xsscorpus");
  await check(page, hits, "prompt grid", [BEGIN, category, "<svg onload=__xss(85)>"]);
  for (const field of ["text", "category", "tags"]) {
    await page.click(`[data-testid=prompt-row] td[data-field=${field}]`);
    await page.waitForSelector(`[data-testid=prompt-row] form`);
    await check(page, hits, `prompt ${field} editor`);
    const value = await page.inputValue(`[data-testid=prompt-row] form [name=value]`);
    if (field === "text") assert.equal(value, batch, "the editor does not hold the prompt verbatim");
    await page.click(`[data-testid=prompt-row] form button:has-text('Cancel')`);
    await page.waitForSelector(`[data-testid=prompt-row] form`, { state: "detached" });
  }

  // Guidelines (Markdown) and a generation job whose two answers echo the prompt.
  await page.goto("/guidelines");
  await form(page, "/guidelines", { guidelines: batch, overlap: "1" });
  await page.goto("/guidelines");
  await check(page, hits, "/guidelines", [BEGIN, END]);
  await page.goto("/generate");
  await page.selectOption("[data-testid=model-select]", { label: "echo" });
  await page.selectOption("[data-testid=n-select]", "2");
  await page.fill("[data-testid=new-job] input[name=tag]", "xsscorpus");
  await page.click("[data-testid=new-job] button[type=submit]");
  await page.waitForURL(/\/generate\/jobs\/\d+/);
  await page.waitForFunction(() => /succeeded/.test(document.querySelector("[data-testid=job-status]")?.textContent || ""),
    null, { timeout: 30000 });
  await page.reload();
  await check(page, hits, "job page", [END]);

  // The focus view shows the prompt, both answers and the guidelines; the label's rationale is the corpus.
  await page.goto("/annotate");
  await page.waitForSelector("[data-testid=label-form]");
  const item = page.url();
  await check(page, hits, "focus view", [BEGIN, END, category]);
  await page.fill("[data-testid=rationale]", batch.slice(0, 8000));
  await page.click("[data-testid=pick-best] >> nth=0");
  if (await page.$("[data-testid=pick-worst]")) await page.click("[data-testid=pick-worst] >> nth=1");
  await page.click("[data-testid=verdict-pair]");
  await page.waitForURL((u) => u.toString() !== item);
  await page.goto(item);
  await check(page, hits, "focus view with a label", [BEGIN]);
  assert.equal(await page.inputValue("[data-testid=rationale]"), batch.slice(0, 8000));
  await page.goto("/review");
  await check(page, hits, "/review", [BEGIN]);
  await page.click("[data-testid=review-inline-edit]");
  await page.waitForSelector("[data-testid=review-edit-form]");
  await check(page, hits, "/review inline editor");

  // Docs search over the ingested Markdown.
  await page.goto("/rag?q=" + encodeURIComponent("tokio corpus xss onerror script"));
  assert.ok((await page.$$("[data-testid=rag-result]")).length > 0, "no docs search results");
  await check(page, hits, "/rag", ["__xss("]);

  // Chat: one plain column and one with docs; then the stored page and the shared read-only link.
  await page.goto("/chat");
  await page.selectOption("[data-testid=model-0]", { label: "echo" });
  await page.selectOption("[data-testid=model-1]", { label: "echo" });
  await page.check("[data-testid=rag-1]");
  if (await page.$("[data-testid=model-2]")) await page.selectOption("[data-testid=model-2]", "");
  await page.fill("[data-testid=question]", batch);
  await page.click("[data-testid=send]");
  await page.waitForURL(/\/chat\/\d+/);
  await page.waitForFunction(() => {
    const answers = document.querySelectorAll("[data-testid=chat-answer]");
    return answers.length === 2 && [...answers].every((a) => /tokens$/.test(a.querySelector("[data-answer-meta]").textContent.trim()));
  }, null, { timeout: 30000 });
  await check(page, hits, "chat (streamed)", [END]);
  assert.ok((await page.$$("[data-testid=chat-sources] li")).length > 0, "the docs column lists no sources");
  await page.reload();
  await check(page, hits, "chat (stored)", [END]);
  await page.click("[data-testid=save]");
  await page.waitForSelector("[data-testid=share-link]");
  const link = await page.getAttribute("[data-testid=share-link]", "href");
  const strangerHits = [];
  const stranger = await detector(strangerHits);
  const shared = await stranger.newPage();
  await shared.goto(link);
  await check(shared, strangerHits, "shared chat", [END]);
  await stranger.close();

  // Arena: both sides echo the question; the vote reveals the model names.
  await page.goto("/arena");
  await page.fill("[data-testid=arena-question]", batch);
  await page.click("[data-testid=arena-start]");
  await page.waitForURL(/\/arena\/\d+$/);
  await page.waitForFunction(() => ["a", "b"].every((s) =>
    /tokens$/.test(document.querySelector(`[data-testid=arena-answer-${s}] [data-answer-meta]`).textContent.trim())),
  null, { timeout: 30000 });
  await check(page, hits, "arena battle", [END]);
  await page.keyboard.press("1");
  await page.waitForFunction(() => document.querySelector("[data-testid=arena-model-a]").textContent.trim() !== "");
  await check(page, hits, "arena names");
  await page.reload();
  await check(page, hits, "arena battle (stored)", [END]);
  await page.goto("/arena/leaderboard");
  await check(page, hits, "arena leaderboard");

  await context.close();
});
