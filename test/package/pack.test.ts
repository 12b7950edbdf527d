/**
 * The npm package as a user gets it: `npm pack` (which builds through prepack) from this checkout,
 * installed into a scratch consumer project with webgpu beside it. Checks what the tarball holds
 * and weighs, that strict TypeScript consumers typecheck against the shipped declarations in a
 * Node setup and in a browser setup (no @types/node, no esnext lib, no skipLibCheck), that plain
 * `node` trains a ResNet-18 step through the package, that the `webmtl` binary answers --version,
 * and that a Node project without webgpu gets an error naming the install command.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAWN_VERSION } from '../../src/gpu/adapter.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const work = mkdtempSync(join(tmpdir(), 'webmtl-pack-'));
const consumer = join(work, 'consumer');
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface PackInfo {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}
let info: PackInfo;

const run = (cmd: string, args: string[], cwd: string) =>
  spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });

beforeAll(() => {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  // prepack's build prints lines before npm's JSON array.
  info = (JSON.parse(out.slice(out.indexOf('\n[') + 1 || out.indexOf('['))) as PackInfo[])[0]!;
  writeFileSync(join(work, 'package.json'), '{}');
  execFileSync('mkdir', ['-p', consumer]);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', join(work, info.filename), `webgpu@${pkg.devDependencies.webgpu}`, `@types/node@${pkg.devDependencies['@types/node']}`],
    { cwd: consumer, stdio: ['ignore', 'pipe', 'pipe'] },
  );
}, 300_000);

describe('the npm package', () => {
  it('ships the builds, declarations, LICENSE and bin, and nothing it need not', () => {
    const paths = info.files.map((f) => f.path);
    for (const p of ['LICENSE', 'README.md', 'package.json', 'bin/webmtl.mjs', 'dist/node/index.js', 'dist/node/cli.js', 'dist/node/worker-pool.js', 'dist/node/worker-entry.js', 'dist/browser/webmtl.js', 'dist/browser/webmtl.min.js', 'dist/types/index.d.ts', 'dist/types/browser.d.ts']) {
      expect(paths, p).toContain(p);
    }
    expect(paths.filter((p) => p.endsWith('.map'))).toEqual([]);
    expect(paths.filter((p) => p.startsWith('src/') || p.startsWith('test/') || p.startsWith('shaders/'))).toEqual([]);
    // Lean: the engine once in dist/node (a shared chunk), dependencies imported, not bundled.
    expect(info.size).toBeLessThanOrEqual(1 << 20);
    expect(info.unpackedSize).toBeLessThanOrEqual(4 << 20);
    const nodeFiles = paths.filter((p) => p.startsWith('dist/node/') && p.endsWith('.js'));
    const texts = nodeFiles.map((p) => readFileSync(join(consumer, 'node_modules/webmtl', p), 'utf8'));
    const holding = (re: RegExp) => nodeFiles.filter((_, i) => re.test(texts[i]!));
    expect(holding(/\bTensor = class\b|class Tensor\b/)).toHaveLength(1);
    expect(holding(/\bshaders = \{/)).toHaveLength(1); // the inlined shaders/*.wgsl map, once
    expect(holding(/from "zod"/).length).toBeGreaterThan(0);
    expect(holding(/class ZodError\b/)).toEqual([]);
    const min = info.files.find((f) => f.path === 'dist/browser/webmtl.min.js')!.size;
    const readable = info.files.find((f) => f.path === 'dist/browser/webmtl.js')!.size;
    expect(min).toBeLessThan(readable * 0.8);
  });

  it('declares Dawn as an optional peer, at the version the error message names', () => {
    const installed = JSON.parse(readFileSync(join(consumer, 'node_modules/webmtl/package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    expect(installed.dependencies.webgpu).toBeUndefined();
    expect(installed.peerDependencies.webgpu).toBe(DAWN_VERSION);
    expect(installed.peerDependenciesMeta.webgpu?.optional).toBe(true);
    expect(pkg.peerDependencies.webgpu).toBe(DAWN_VERSION);
  });

  it('typechecks strict consumers against the shipped declarations: Node, and a browser without @types/node', () => {
    writeFileSync(
      join(consumer, 'node.mts'),
      `import * as w from 'webmtl';
await w.init();
const net = w.resnet18({ widthMultiplier: 0.125 });
const feats: w.BackboneFeatures = net.forward(w.randn([2, 3, 64, 64], { seed: 1 }));
const loss: w.Tensor = w.mean(w.square(feats.c4));
w.backward(loss);
const device: GPUDevice = w.runtime().device;
{ using t = w.zeros([2]); void t; }
console.log(await loss.item(), device.limits.maxStorageBufferBindingSize);
`,
    );
    writeFileSync(
      join(consumer, 'browser.ts'),
      `import * as w from 'webmtl';
export async function step(canvasSize: number): Promise<number> {
  await w.init();
  const device: GPUDevice = w.runtime().device;
  const x = w.randn([1, 3, canvasSize, canvasSize], { seed: 2 });
  const y = w.maxPool2d(x, 2);
  const rgba: w.RgbaImage = w.labelsToRgba(new Int32Array(4), 2, 2, 3);
  void device; void rgba;
  return y.item();
}
`,
    );
    // The Node setup keeps TypeScript's default lib for es2022, which has the DOM declarations that
    // @webgpu/types builds on; `using` comes from @types/node.
    writeFileSync(join(consumer, 'tsconfig.node.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', noEmit: true, types: ['node'] }, files: ['node.mts'] }));
    writeFileSync(join(consumer, 'tsconfig.browser.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'es2022', lib: ['es2022', 'dom'], module: 'esnext', moduleResolution: 'bundler', customConditions: ['browser'], noEmit: true, types: [] }, files: ['browser.ts'] }));
    for (const cfg of ['tsconfig.node.json', 'tsconfig.browser.json']) {
      const r = run(process.execPath, [tsc, '-p', cfg], consumer);
      expect(`${r.stdout}${r.stderr}`, cfg).toBe('');
      expect(r.status, cfg).toBe(0);
    }
  });

  it('trains a ResNet-18 forward and backward from plain node, and the bin prints its version', () => {
    writeFileSync(
      join(consumer, 'step.mjs'),
      `import * as w from 'webmtl';
await w.init();
const net = w.resnet18({ widthMultiplier: 0.125 });
const feats = net.forward(w.randn([2, 3, 64, 64], { seed: 1 }));
const loss = w.mean(w.square(feats.c4));
w.backward(loss);
const grads = net.parameters().filter((p) => p.grad !== null).length;
console.log(JSON.stringify({ loss: await loss.item(), grads, params: net.parameters().length, gradNorm: await w.sum(w.square(net.conv1.weight.grad)).item() }));
`,
    );
    const r = run(process.execPath, ['step.mjs'], consumer);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { loss: number; grads: number; params: number; gradNorm: number };
    expect(Number.isFinite(out.loss) && out.loss > 0).toBe(true);
    expect(out.grads).toBe(out.params);
    expect(out.gradNorm).toBeGreaterThan(0);
    const v = run(join(consumer, 'node_modules/.bin/webmtl'), ['--version'], consumer);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);
  });

  it('without webgpu installed, init() names the install command', () => {
    const dawn = join(consumer, 'node_modules/webgpu');
    renameSync(dawn, `${dawn}.off`);
    try {
      writeFileSync(join(consumer, 'nodawn.mjs'), `import * as w from 'webmtl';\ntry { await w.init(); console.log('no error'); } catch (e) { console.log(e.name + ': ' + e.message); }\n`);
      const r = run(process.execPath, ['nodawn.mjs'], consumer);
      expect(r.stdout).toMatch(/^NoAdapterError: .*'webgpu' package, which is not installed/);
      expect(r.stdout).toContain(`npm install webgpu@${DAWN_VERSION}`);
    } finally {
      renameSync(`${dawn}.off`, dawn);
    }
  });
});
