import { launchBrowser } from "./helpers.mjs";
const base = process.argv[2];
const b = await launchBrowser();
const page = await (await b.newContext({ baseURL: base, viewport: { width: 1300, height: 900 } })).newPage();
await page.goto("/login");
await page.fill("input[name=name]", "alice");
await page.fill("input[name=password]", "secretpw123");
await page.click("button[type=submit]");
await page.waitForLoadState("networkidle");
await page.goto("/chat");
for (const k of [0, 1, 2]) await page.fill(`[data-testid=max-tokens-${k}]`, "200");
let T0 = 0;
page.on("request", (r) => { if (T0) console.log("  req", Date.now() - T0, r.method(), r.url().replace(base, "")); });
page.on("response", (r) => { if (T0) console.log("  resp", Date.now() - T0, r.status(), r.url().replace(base, "")); });
async function turn(q, n) {
  await page.fill("[data-testid=question]", q);
  const t0 = Date.now(); T0 = t0;
  await page.press("[data-testid=question]", "Enter");
  const firsts = [];
  for (let k = 0; k < 3; k++) {
    await page.waitForFunction(([n, k]) => {
      const ex = document.querySelectorAll("[data-testid=exchange]")[n - 1];
      const bodies = ex ? ex.querySelectorAll("[data-answer-body]") : [];
      return bodies[k] && bodies[k].textContent.trim().length > 0;
    }, [n, k], { timeout: 120000, polling: 10 });
    firsts.push(Date.now() - t0);
  }
  await page.waitForFunction((n) => {
    const ex = document.querySelectorAll("[data-testid=exchange]")[n - 1];
    const a = ex.querySelectorAll("[data-testid=chat-answer]");
    return a.length === 3 && [...a].every((x) => /tokens$/.test(x.querySelector("[data-answer-meta]").textContent.trim()));
  }, n, { timeout: 120000 });
  return [firsts, Date.now() - t0];
}
console.log("turn 1", await turn("How do I read a file line by line in Rust?", 1));
await page.waitForTimeout(12000);
console.log("turn 2", await turn("Now count the lines that are empty.", 2));
await page.screenshot({ path: `/tmp/shots/chat2_${base.slice(-4)}.png`, fullPage: true });
await b.close();
