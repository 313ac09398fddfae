// Shared pieces of the browser tests: starting the app and launching Chromium.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

export const root = path.resolve(import.meta.dirname, "..");
// RUSTEXPERT_BIN picks another build of the app (default: the one `make build` writes).
export const bin = process.env.RUSTEXPERT_BIN || path.join(root, "bin", "rustexpert");

// start runs a command and resolves with the first stdout/stderr match of pattern.
export function start(cmd, args, pattern) {
  const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (chunk) => {
      seen += chunk.toString();
      const m = seen.match(pattern);
      if (m) resolve({ child, match: m[1] });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${cmd} exited with ${code}: ${seen}`)));
    setTimeout(() => reject(new Error(`${cmd} did not start: ${seen}`)), 20000);
  });
}

// startApp serves the app on a free port with its own data folder and the repository's models;
// extraArgs go to serve as well (e.g. ["--public"]).
export function startApp(dataDir, extraArgs = []) {
  return start(bin, ["serve", "--data", dataDir, "--models", path.join(root, "models"), "--addr", "127.0.0.1:0", ...extraArgs],
    /url=(http:\/\/\S+)/);
}

// launchBrowser starts Debian's Chromium (or $CHROMIUM) headless.
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

// startBareApp serves the app like startApp, but with an empty models folder: no bundled model is registered.
export function startBareApp(dataDir) {
  const noModels = path.join(dataDir, "no-models");
  mkdirSync(noModels, { recursive: true });
  return start(bin, ["serve", "--data", dataDir, "--models", noModels, "--addr", "127.0.0.1:0"], /url=(http:\/\/\S+)/);
}

// watch collects a page's script errors, console errors and failed responses.
export function watch(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  return errors;
}
