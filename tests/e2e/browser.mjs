// browser.mjs - the browser half of the end-to-end test (tests/e2e/run.sh
// starts uva_container and runs this).  Headless Debian Chromium, driven by
// playwright-core, visits both containers as a user would, and the host-side
// logs must show that each request landed in its own container only.
//
// Output: one line per check, "PASS <description>" or "FAIL <description>",
// plus "# ..." diagnostics; run.sh numbers and counts them.  Exit status is
// non-zero when a check failed or the browser could not be driven at all
// (a Chromium that cannot start is a failure, never a skip).
//
// Environment (set by run.sh):
//   UVA_E2E_STATE    $XDG_STATE_HOME/uva_container of the running instance
//   UVA_E2E_SHOTS    directory for screenshot-18080.png / screenshot-28080.png
//   UVA_E2E_PROFILE  a fresh, empty directory for Chromium's --user-data-dir
//   CHROMIUM         the browser binary (default /usr/bin/chromium)
import { chromium } from 'playwright-core';
import { randomBytes } from 'node:crypto';
import { readFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const state = process.env.UVA_E2E_STATE;
if (!state) {
  console.log('FAIL UVA_E2E_STATE is set (run tests/e2e/run.sh, not this file)');
  process.exit(2);
}
const shots = process.env.UVA_E2E_SHOTS || join(process.cwd(), 'docs');
const profile = process.env.UVA_E2E_PROFILE ||
    mkdtempSync(join(tmpdir(), 'uva-e2e-chromium.'));
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const containers = [
  { name: 'a', other: 'b', port: 18080 },
  { name: 'b', other: 'a', port: 28080 },
];
// One unique path per container, so a hit in the wrong log is unambiguous.
const token = randomBytes(6).toString('hex');
for (const c of containers) c.unique = `/e2e-${c.name}-${token}`;

let failed = 0;
function check(ok, what, detail) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (!ok) {
    failed++;
    if (detail) for (const l of String(detail).split('\n')) console.log(`#   ${l}`);
  }
  return ok;
}

// Runs one step; an exception (timeout, navigation error) fails that check.
async function step(what, fn) {
  try {
    const r = await fn();
    if (r === true || r === undefined) return check(true, what);
    return check(false, what, r);
  } catch (e) {
    return check(false, what, e && e.message ? e.message.split('\n')[0] : e);
  }
}

const logPath = (name) => join(state, name, 'tmp', 'http_recorder.log');
function readLog(name) {
  try {
    return readFileSync(logPath(name), 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return '';
    throw e;
  }
}
const logged = (text, path) =>
  text.split('\n').includes(`GET request for ${path}`);

// The recorder writes its log line before it answers, so the lines are there
// once the responses arrived; poll briefly anyway, bounded.
async function waitForLog(name, paths, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const text = readLog(name);
    if (paths.every((p) => logged(text, p)) || Date.now() > end) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  // Belt and braces: this test talks to loopback only; any other host name
  // fails to resolve instead of leaving the machine.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
  '--no-proxy-server',
];

// A fresh profile directory (--user-data-dir, which playwright takes as the
// userDataDir of a persistent context).
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath, args, headless: true, timeout: 30000,
    viewport: { width: 640, height: 200 }, deviceScaleFactor: 1,
  });
  check(true, `Chromium starts headless (${executablePath})`);
} catch (e) {
  check(false, `Chromium starts headless (${executablePath})`, e.message);
  process.exit(1);
}

try {
  const browser = context.browser();
  if (browser) console.log(`# Chromium ${browser.version()}`);
  mkdirSync(shots, { recursive: true });

  for (const c of containers) {
    const base = `http://127.0.0.1:${c.port}/`;
    const own = `hello-from-${c.name}.txt`;
    const foreign = `hello-from-${c.other}.txt`;
    const page = await context.newPage();

    let listed = [];
    const opened = await step(`${base} answers 200 with a directory listing`,
        async () => {
          const res = await page.goto(base, { timeout: 15000 });
          if (res.status() !== 200) return `status ${res.status()}`;
          const h1 = (await page.locator('h1').textContent()) || '';
          if (!h1.includes('Directory listing for /'))
            return `heading is "${h1}"`;
          listed = await page.locator('ul a').allTextContents();
          console.log(`#   listing at ${c.port}: ${JSON.stringify(listed)}`);
        });
    if (!opened) {
      await page.close();
      continue;
    }
    check(listed.includes(own), `listing at ${c.port} shows ${own}`,
          JSON.stringify(listed));
    check(!listed.includes(foreign),
          `listing at ${c.port} does not show ${foreign}`,
          JSON.stringify(listed));

    const shot = join(shots, `screenshot-${c.port}.png`);
    await step(`screenshot of ${base} saved to ${shot}`, async () => {
      await page.screenshot({ path: shot });
    });

    await step(`clicking ${own} at ${c.port} shows the file's content`,
        async () => {
          await Promise.all([
            page.waitForURL(`${base}${own}`, { timeout: 10000 }),
            page.locator(`ul a[href="${own}"]`).click({ timeout: 10000 }),
          ]);
          const body = await page.locator('body').innerText();
          const want =
              `This file lives in the working directory of container ${c.name}.`;
          if (!body.includes(want))
            return `page shows ${JSON.stringify(body.slice(0, 200))}`;
        });

    await step(`GET ${c.unique} at ${c.port} is answered (404 expected)`,
        async () => {
          const res = await page.goto(`${base}${c.unique.slice(1)}`,
                                      { timeout: 10000 });
          if (res.status() !== 404) return `status ${res.status()}`;
        });
    await page.close();
  }

  // The host's view: each container's /tmp is
  // $XDG_STATE_HOME/uva_container/<name>/tmp.
  for (const c of containers) {
    const ownPaths = ['/', `/hello-from-${c.name}.txt`, c.unique];
    const text = await waitForLog(c.name, ownPaths);
    console.log(`# ${logPath(c.name)}:`);
    for (const l of text.split('\n').filter(Boolean)) console.log(`#   ${l}`);
    for (const p of ownPaths)
      check(logged(text, p), `container ${c.name}'s log records GET ${p}`);
    const o = containers.find((x) => x.name === c.other);
    for (const p of [`/hello-from-${o.name}.txt`, o.unique])
      check(!text.includes(p),
            `container ${c.name}'s log has nothing of ${o.name}'s GET ${p}`);
  }
} catch (e) {
  check(false, 'browser session ran to the end', e.stack || e.message);
} finally {
  await context.close().catch(() => {});
}
process.exit(failed ? 1 : 0);
