// What the browser tests share: Debian's Chromium driven by playwright-core, checks, the accessibility check
// (axe-core), screenshots, and signing in through the platform's login pages.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const AXE = readFileSync(new URL("../node_modules/axe-core/axe.min.js", import.meta.url), "utf8");

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * Runs `journey(page)` in a fresh headless Chromium profile, with English as the browser's language, under the
 * pages' own Content-Security-Policies: anything one of them blocks fails the journey.
 */
export async function inBrowser(journey) {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "ec-browser-")), {
    executablePath: CHROMIUM,
    headless: true,
    locale: "en-US",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
  });
  const blocked = [];
  try {
    // Every tab, and every frame in it (the silent sign-in's), is watched.
    const watch = (tab) => {
      tab.on("console", (message) => {
        if (message.text().includes("Content Security Policy")) blocked.push(`${tab.url()}: ${message.text()}`);
      });
      tab.setDefaultTimeout(15_000);
    };
    context.on("page", watch);
    const page = context.pages()[0] ?? (await context.newPage());
    if (context.pages().length === 1) watch(page);
    await journey(page);
  } finally {
    await context.close();
  }
  check(blocked.length === 0, `the Content-Security-Policy blocked: ${blocked.join("; ")}`);
  console.log("ok content security policy");
}

/** The storefront's answer to `url` carries its security headers (`WEB_URL`'s origin is the storefront's). */
export async function secured(page, url) {
  const response = await page.goto(url);
  const headers = response.headers();
  const csp = headers["content-security-policy"] ?? "";
  for (const directive of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]) {
    check(csp.includes(directive), `no ${directive} in the storefront's CSP: ${csp}`);
  }
  const connect = csp.split(";").find((d) => d.trim().startsWith("connect-src")) ?? "";
  check(!connect.includes("*") && !connect.includes("https:"), `connect-src names its hosts: ${connect}`);
  check(headers["x-content-type-options"] === "nosniff", "no X-Content-Type-Options: nosniff");
  check(headers["referrer-policy"] === "no-referrer", `Referrer-Policy ${headers["referrer-policy"]}`);
  console.log("ok security headers");
}

/**
 * With SCREENSHOTS_DIR set, the page as it is now at desktop and at phone width (docs/screenshots). The Japanese
 * pages need a CJK font on the machine (Debian's fonts-noto-cjk); without one their text is boxes.
 */
export async function screenshot(page, name) {
  const dir = process.env.SCREENSHOTS_DIR;
  if (!dir) return;
  for (const [size, viewport] of [
    ["desktop", { width: 1280, height: 800 }],
    ["phone", { width: 390, height: 844 }],
  ]) {
    await page.setViewportSize(viewport);
    // The whole page is shot: lazily loaded pictures below the fold are fetched first, as scrolling would
    // (at most 10 s).
    await page.evaluate(() => {
      for (const img of document.images) img.loading = "eager";
    });
    await page
      .waitForFunction(() => [...document.images].every((img) => img.complete), undefined, { timeout: 10_000 })
      .catch(() => undefined);
    await page.screenshot({ path: join(dir, `${name}-${size}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** axe-core on the page as it is now: no serious or critical violation. */
export async function accessible(page, name) {
  // Evaluated through the browser's debugging protocol, which the pages' CSPs do not govern: no page script
  // is added.
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run());
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `${name}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.help}`).join("; ")}`);
  console.log(`ok accessible ${name}`);
}

/** Signs in through the platform's login pages from the header of any page, and waits until back, signed in. */
export async function signIn(page, email, password) {
  await page.getByRole("banner").getByRole("button", { name: "Sign in", exact: true }).click();
  await logIn(page, email, password);
}

/** On the platform's login page: signs in and waits until back in the app, signed in. */
export async function logIn(page, email, password) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signed-in-as").waitFor();
  const who = await page.getByTestId("signed-in-as").textContent();
  check(who === email, `signed in as ${who}, not ${email}`);
}

/** Signs out through the issuer (RP-initiated logout, confirmed on its page) and waits until signed out. */
export async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL((url) => url.pathname === "/oauth2/logout");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("banner").getByRole("button", { name: "Sign in", exact: true }).waitFor();
}

/** Opens `path` of the app the way a pasted URL or a bookmark would be followed, without reloading the tokens. */
export async function openPath(page, path) {
  await page.evaluate((to) => {
    window.history.pushState(null, "", to);
    window.dispatchEvent(new PopStateEvent("popstate"));
  }, path);
}
