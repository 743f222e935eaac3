// Drives the apigw dashboard in headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core: the page loads with data, a chart renders, filtering by host and
// picking another GPU changes the data; Swagger UI renders /openapi.json. Screenshots go
// to OUT_DIR.
//   node dashboard_test.js http://127.0.0.1:PORT OUT_DIR
// Exit 0 on success; prints one JSON line with what it saw.
"use strict";
const fs = require("fs");
const path = require("path");
const os = require("os");
const { chromium } = require("playwright-core");

const [base, outDir] = process.argv.slice(2);
const TIMEOUT_MS = 20000;

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "apigw-chromium-"));
  // A fresh --user-data-dir: playwright passes the profile folder itself.
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: TIMEOUT_MS,
    viewport: { width: 1400, height: 900 },
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const result = {};
  try {
    const page = browser.pages()[0] || (await browser.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    page.on("response", (r) => { if (r.status() >= 400) errors.push(r.status() + " " + r.url()); });
    await page.goto(base + "/", { timeout: TIMEOUT_MS });
    await page.waitForSelector("#gpu-list li", { timeout: TIMEOUT_MS });
    await page.waitForSelector('#status[data-state="loaded"]', { timeout: TIMEOUT_MS });
    await page.waitForSelector("#charts .chart canvas", { timeout: TIMEOUT_MS });
    result.gpus = await page.locator("#gpu-list li").count();
    result.charts = await page.locator("#charts .chart").count();
    result.first_gpu = await page.getAttribute("#status", "data-gpu");
    result.first_status = await page.textContent("#status");
    const firstSig = await page.evaluate(() => window.dashboard.lastSignature);
    result.first_points = JSON.parse(firstSig).length;
    await page.screenshot({ path: path.join(outDir, "dashboard.png"), fullPage: false });

    // Filter by another host and pick its second GPU.
    const hosts = await page.$$eval("#host-filter option", (os) => os.map((o) => o.value));
    const host = hosts.filter((h) => h)[1];
    await page.selectOption("#host-filter", host);
    const items = page.locator("#gpu-list li");
    result.host = host;
    result.host_gpus = await items.count();
    const loadsBefore = await page.evaluate(() => window.dashboard.loads);
    await items.nth(1).click();
    await page.waitForFunction((n) => window.dashboard.loads > n, loadsBefore + 0, { timeout: TIMEOUT_MS });
    await page.waitForSelector('#status[data-state="loaded"]', { timeout: TIMEOUT_MS });
    result.second_gpu = await page.getAttribute("#status", "data-gpu");
    const secondSig = await page.evaluate(() => window.dashboard.lastSignature);
    result.data_changed = secondSig !== firstSig;
    result.second_charts = await page.locator("#charts .chart canvas").count();
    await page.screenshot({ path: path.join(outDir, "dashboard-second-gpu.png") });

    // A wider window still renders.
    const loads2 = await page.evaluate(() => window.dashboard.loads);
    await page.selectOption("#window", "3600");
    await page.waitForFunction((n) => window.dashboard.loads > n, loads2, { timeout: TIMEOUT_MS });
    result.hour_status = await page.textContent("#status");
    await page.screenshot({ path: path.join(outDir, "dashboard-1h.png") });

    // Swagger UI renders the generated document from the gateway's own assets.
    await page.goto(base + "/swagger", { timeout: TIMEOUT_MS });
    await page.waitForSelector(".opblock-summary-path", { timeout: TIMEOUT_MS });
    result.swagger_operations = await page.locator(".opblock").count();
    await page.screenshot({ path: path.join(outDir, "swagger.png") });
    result.errors = errors;
    const ok = result.gpus > 0 && result.charts >= 1 && result.second_charts >= 1 &&
      result.first_points > 0 && result.second_gpu !== result.first_gpu &&
      result.data_changed && result.swagger_operations >= 5 && errors.length === 0;
    console.log(JSON.stringify(result));
    return ok ? 0 : 1;
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(2);
});
