/**
 * The browser demo end to end: builds the library's browser bundle and the page, checks that
 * neither loads a Node built-in, serves examples/browser on 127.0.0.1, and drives Debian's Chromium
 * (headless, through playwright-core; never a downloaded browser) with WebGPU on its SwiftShader
 * Vulkan adapter: 12 training steps must lower the losses and move the GradNorm weights, and the
 * page must show a clear message when the browser has no WebGPU adapter. Writes a screenshot and
 * the run's numbers to test-output/browser/. See examples/browser/README.md for the flags.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoProgress } from '../../examples/browser/main.js';
import { startServer, type StaticServer } from '../../examples/browser/serve.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = '/usr/bin/chromium';
const OUT = path.join(root, 'test-output/browser');
const STEPS = 12;
// Root needs --no-sandbox; without --enable-unsafe-webgpu Chromium on Linux returns no adapter.
const BASE_FLAGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu'];

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function launch(flags: string[]): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser test drives Debian's Chromium; run \`bash scripts/ensure-test-tools.sh\` (npm test does, as root on Debian/Ubuntu)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...BASE_FLAGS, ...flags] });
}

describe('browser demo (headless Chromium, WebGPU on SwiftShader)', () => {
  let server: StaticServer;

  beforeAll(() => {
    execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--only=browser,demo'], { cwd: root, stdio: 'pipe' });
  });
  beforeAll(async () => {
    server = await startServer({ root: path.join(root, 'examples/browser'), port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('bundles load no Node built-ins', () => {
    for (const f of ['dist/browser/webmtl.js', 'examples/browser/dist/main.js']) {
      const text = readFileSync(path.join(root, f), 'utf8');
      expect(text, f).not.toMatch(/\bfrom\s*["']node:/);
      expect(text, f).not.toMatch(/\brequire\s*\(\s*["']/);
      expect(text, f).not.toMatch(/\bimport\s*\(\s*["'](node:|fs|path)/);
      expect(text, f).not.toMatch(/\bfrom\s*["'](fs|path|url|child_process|worker_threads)["']/);
      // The shaders are inlined (the Node build reads them from shaders/ instead).
      expect(text, f).toContain('@compute');
    }
  });

  it(`trains ${STEPS} steps: losses fall, GradNorm weights move, the plots and panel update`, async () => {
    const browser = await launch(WEBGPU_FLAGS);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 700 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
      });
      const t0 = performance.now();
      await page.goto(`${server.url}?autostart=1&steps=${STEPS}`);
      await page.waitForFunction(() => window.__webmtl?.done === true, null, { timeout: 100_000, polling: 250 });
      const seconds = (performance.now() - t0) / 1000;
      const p = (await page.evaluate(() => window.__webmtl)) as DemoProgress;
      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: path.join(OUT, 'demo.png'), fullPage: true });
      writeFileSync(path.join(OUT, 'demo.json'), JSON.stringify({ seconds, ...p }, null, 1));
      console.log(`browser demo: adapter '${p.adapter}', ${STEPS} steps in ${seconds.toFixed(1)} s (first step ${p.stepMs[0]?.toFixed(0)} ms, then ${mean(p.stepMs.slice(1)).toFixed(0)} ms/step)`);

      expect(p.error, 'the page reported an error').toBeNull();
      expect(errors).toEqual([]);
      expect(p.status).toBe('done');
      expect(p.adapter).toMatch(/swiftshader/i);
      expect(p.step).toBe(STEPS);

      // Losses: each step sees a different batch, so single steps are noisy. The total of the
      // unweighted task losses, averaged over the last 3 steps against the first 3, falls by 30-40%
      // here (lavapipe and SwiftShader alike); requiring 10% leaves room for numerical differences
      // between adapters. Per task, at least 3 of 4 must fall (edge losses move least early on).
      const tasks = Object.keys(p.losses[0]!);
      expect(tasks).toEqual(['semseg', 'depth', 'normals', 'edge']);
      expect(p.losses).toHaveLength(STEPS);
      const total = p.losses.map((l) => tasks.reduce((a, t) => a + l[t]!, 0));
      expect(total.every(Number.isFinite)).toBe(true);
      expect(mean(total.slice(-3))).toBeLessThan(0.9 * mean(total.slice(0, 3)));
      const fell = tasks.filter((t) => mean(p.losses.slice(-3).map((l) => l[t]!)) < mean(p.losses.slice(0, 3).map((l) => l[t]!)));
      expect(fell.length, `tasks whose loss fell: ${fell.join(', ')}`).toBeGreaterThanOrEqual(3);

      // GradNorm: a weight per task and step, starting at 1, renormalised to sum to the number of
      // tasks, and moved away from 1 by the end (they reach about 0.8-1.2 after 12 steps).
      expect(p.weights).toHaveLength(STEPS);
      for (const t of tasks) expect(p.weights[0]![t]).toBeCloseTo(1, 5);
      const last = p.weights[STEPS - 1]!;
      expect(tasks.reduce((a, t) => a + last[t]!, 0)).toBeCloseTo(tasks.length, 3);
      expect(Math.max(...tasks.map((t) => Math.abs(last[t]! - 1)))).toBeGreaterThan(0.05);

      // What was drawn: one point per step in both plots, the panel at load and every 5 steps.
      expect(p.plotted.losses).toBe(STEPS);
      expect(p.plotted.weights).toBe(STEPS);
      expect(p.plotted.previews).toBeGreaterThanOrEqual(3);
      expect(await page.locator('#message').isVisible()).toBe(false);
    } finally {
      await browser.close();
    }
  }, 150_000);

  it('says clearly when the browser has no WebGPU adapter', async () => {
    const browser = await launch([]);
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}?autostart=1&steps=1`);
      await page.waitForFunction(() => window.__webmtl?.done === true, null, { timeout: 30_000 });
      const p = (await page.evaluate(() => window.__webmtl)) as DemoProgress;
      expect(p.status).toBe('no-webgpu');
      const box = page.locator('#message');
      expect(await box.isVisible()).toBe(true);
      const text = await box.innerText();
      expect(text).toMatch(/WebGPU/);
      expect(text).toContain('--enable-unsafe-webgpu');
    } finally {
      await browser.close();
    }
  }, 60_000);
});
