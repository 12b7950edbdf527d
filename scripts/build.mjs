// Builds dist/: an ESM Node bundle, an ESM browser bundle with every shader inlined as text (entry
// src/browser.ts), type declarations, and the browser demo page's bundle
// (examples/browser/dist/main.js, library and Chart.js included).
// Usage: npm run build                     everything
//        node scripts/build.mjs --only=browser,demo   some of: node, cli, browser, types, demo
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const shaderDir = path.join(root, 'shaders');
const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const PARTS = ['node', 'cli', 'browser', 'types', 'demo'];
const parts = new Set(onlyArg ? onlyArg.slice('--only='.length).split(',') : PARTS);
for (const p of parts) if (!PARTS.includes(p)) throw new Error(`unknown build part '${p}' (${PARTS.join(', ')})`);

// In the browser there is no file system: replace src/gpu/shader-files.ts by a module that holds
// every shaders/*.wgsl as a string.
const inlineShaders = {
  name: 'inline-shaders',
  setup(b) {
    b.onLoad({ filter: /src[\\/]gpu[\\/]shader-files\.ts$/ }, () => {
      const map = {};
      for (const f of readdirSync(shaderDir)) {
        if (f.endsWith('.wgsl')) map[f.slice(0, -5)] = readFileSync(path.join(shaderDir, f), 'utf8');
      }
      return {
        loader: 'js',
        contents:
          `const shaders = ${JSON.stringify(map)};\n` +
          'export function readShaderFile(name) {\n' +
          '  const s = shaders[name];\n' +
          "  if (s === undefined) throw new Error('unknown shader ' + name);\n" +
          '  return s;\n}\n',
        watchFiles: readdirSync(shaderDir).map((f) => path.join(shaderDir, f)),
      };
    });
  },
};

// A browser bundle must not load Node built-ins: static imports of them would fail to resolve in a
// page. Node-only code (src/io/node-fs.ts, the Dawn loader) imports under a computed name at call
// time, which leaves only a string behind, so these patterns catch real imports only.
const NODE_IMPORT = /\bfrom\s*["'](node:|fs["'/]|path["']|url["']|child_process["']|worker_threads["'])|\brequire\s*\(\s*["']|\bimport\s*\(\s*["']node:/;

function checkBrowserBundle(file) {
  const text = readFileSync(file, 'utf8');
  const m = NODE_IMPORT.exec(text);
  if (m) {
    const line = text.slice(0, m.index).split('\n').length;
    throw new Error(`${path.relative(root, file)}:${line} imports a Node built-in (${JSON.stringify(text.slice(m.index, m.index + 40))}); browser code must not`);
  }
}

// No source maps: the package ships no sources for them to point at, and they tripled its size.
const common = { bundle: true, format: 'esm', target: 'es2022', sourcemap: false, logLevel: 'warning' };
if (parts.has('node') || parts.has('cli')) {
  // Chunk names carry content hashes: clear the folder so no stale chunk from an earlier build ships.
  rmSync(path.join(root, 'dist/node'), { recursive: true, force: true });
  // One build with code splitting, so the engine exists once in dist/node (a shared chunk) however many
  // entries use it: the library (index.js), the `webmtl` command (cli.js, loaded by bin/webmtl.mjs)
  // and the DataLoader's worker threads. loader.ts imports ./worker-pool.js under a computed name (so
  // the browser bundle never sees node:worker_threads), and the pool starts ./worker-entry.js; both
  // therefore sit next to index.js as files of their own. npm dependencies stay external (they are
  // installed beside the package), and the shaders are inlined as in the browser build.
  await build({
    ...common,
    entryPoints: {
      index: path.join(root, 'src/index.ts'),
      cli: path.join(root, 'src/cli/main.ts'),
      'worker-pool': path.join(root, 'src/data/worker-pool.ts'),
      'worker-entry': path.join(root, 'src/data/worker-entry.ts'),
    },
    platform: 'node',
    outdir: path.join(root, 'dist/node'),
    splitting: true,
    // Chunks sit beside the entries: loader.ts's import of ./worker-pool.js is relative to its chunk.
    chunkNames: 'chunk-[hash]',
    packages: 'external',
    plugins: [inlineShaders],
  });
}
if (parts.has('browser')) {
  // The package's `browser` export: a readable ESM bundle and a minified one beside it. Bare imports
  // of npm dependencies stay (the consumer's bundler resolves them from the installed package).
  // The minified one leaves out esbuild's syntax rewrites: they would fold the computed module names
  // of the Node-only paths back into literal imports that a consumer's bundler then tries to resolve.
  for (const [file, minify] of [['webmtl.js', false], ['webmtl.min.js', true]]) {
    const outfile = path.join(root, 'dist/browser', file);
    await build({ ...common, minifyWhitespace: minify, minifyIdentifiers: minify, entryPoints: [path.join(root, 'src/browser.ts')], platform: 'browser', outfile, packages: 'external', plugins: [inlineShaders] });
    checkBrowserBundle(outfile);
    console.log(`built ${path.relative(root, outfile)}`);
  }
}
if (parts.has('demo')) {
  // The page imports the library from source, so one bundle holds the library, Chart.js and the page.
  const outfile = path.join(root, 'examples/browser/dist/main.js');
  await build({ ...common, entryPoints: [path.join(root, 'examples/browser/main.ts')], platform: 'browser', outfile, plugins: [inlineShaders] });
  checkBrowserBundle(outfile);
  console.log(`built ${path.relative(root, outfile)}`);
}
if (parts.has('types')) {
  execFileSync('npx', ['tsc', '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
}
