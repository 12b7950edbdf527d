// Builds dist/: an ESM Node bundle, an ESM browser bundle with every shader inlined as text, and
// type declarations. Usage: npm run build
import { build } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const shaderDir = path.join(root, 'shaders');

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
      };
    });
  },
};

const common = { entryPoints: [path.join(root, 'src/index.ts')], bundle: true, format: 'esm', target: 'es2022', sourcemap: true, logLevel: 'info' };
await build({ ...common, platform: 'node', outfile: path.join(root, 'dist/node/index.js'), external: ['webgpu'] });
await build({ ...common, platform: 'browser', outfile: path.join(root, 'dist/browser/webmtl.js'), plugins: [inlineShaders] });
execFileSync('npx', ['tsc', '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
