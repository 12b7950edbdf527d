/**
 * A tiny static file server for the demo page (node:http, no dependency), and the
 * `npm run demo:browser` command: builds the page bundle, serves examples/browser on 127.0.0.1 and
 * prints the URL. Usage: tsx examples/browser/serve.ts [--port=8123] [--no-build]
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** A running server: its base URL and how to stop it. */
export interface StaticServer {
  /** e.g. `http://127.0.0.1:8123/` */
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * Serves the files under `root` (default: this folder) on `host`:`port` (default 127.0.0.1, port 0
 * = any free one); `/` is index.html. Paths leaving `root` get 403, missing files 404. Nothing is
 * cached, so a rebuilt bundle shows on reload.
 */
export async function startServer(opts: { root?: string; port?: number; host?: string } = {}): Promise<StaticServer> {
  const root = path.resolve(opts.root ?? here);
  const host = opts.host ?? '127.0.0.1';
  const server = createServer(async (req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.resolve(root, '.' + (pathname.endsWith('/') ? pathname + 'index.html' : pathname));
    if (file !== root && !file.startsWith(root + path.sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${pathname}`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('the server has no TCP address');
  return {
    url: `http://${host}:${addr.port}/`,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Builds the page bundle (examples/browser/dist/main.js) with scripts/build.mjs. */
export function buildPage(): void {
  execFileSync(process.execPath, [path.join(here, '../../scripts/build.mjs'), '--only=demo'], { stdio: 'inherit' });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const portArg = process.argv.find((a) => a.startsWith('--port='));
  if (!process.argv.includes('--no-build')) buildPage();
  let srv: StaticServer;
  try {
    srv = await startServer({ port: portArg ? Number(portArg.slice(7)) : 8123 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || portArg) throw e;
    srv = await startServer({ port: 0 });
  }
  console.log(`webmtl browser demo: ${srv.url}   (add ?autostart=1&steps=50 to start at once; Ctrl-C stops)`);
}
