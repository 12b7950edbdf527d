import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostBatch } from '../../src/data/batch.js';
import { DatasetError } from '../../src/data/errors.js';
import { DataLoader } from '../../src/data/loader.js';
import { NyudDataset } from '../../src/data/nyud.js';
import type { Dataset } from '../../src/data/sample.js';
import { SyntheticScenes } from '../../src/data/synthetic/dataset.js';
import { ArgumentError } from '../../src/errors.js';
import { jpeg, npy, png, put } from './readers/writers.js';

/** Every host batch of one epoch. */
async function all(loader: DataLoader, epoch: number): Promise<HostBatch[]> {
  const out: HostBatch[] = [];
  for await (const b of loader.hostBatches(epoch)) out.push(b);
  return out;
}

/** The bytes of a typed array, for bit-exact comparison (NaN-safe, -0 vs 0 distinguished). */
function bytes(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function expectSameBatches(a: HostBatch[], b: HostBatch[]): void {
  expect(b.map((x) => x.ids)).toEqual(a.map((x) => x.ids));
  a.forEach((x, k) => {
    const y = b[k]!;
    expect(y.inputShape).toEqual(x.inputShape);
    expect(bytes(y.input).equals(bytes(x.input))).toBe(true);
    expect(Object.keys(y.targets)).toEqual(Object.keys(x.targets));
    for (const [task, t] of Object.entries(x.targets)) {
      const u = y.targets[task]!;
      expect(u.target.constructor).toBe(t.target.constructor);
      expect(bytes(u.target).equals(bytes(t.target))).toBe(true);
      expect(u.mask === undefined).toBe(t.mask === undefined);
      if (t.mask) expect(bytes(u.mask!).equals(bytes(t.mask))).toBe(true);
    }
  });
}

const synth = () => new SyntheticScenes({ size: 32, length: 10, seed: 3 });
const augment = { flipProbability: 0.5, scale: [0.8, 1.2] as const, rotation: [-15, 15] as const, crop: [28, 28] as const };

describe('DataLoader workers', () => {
  it('gives bit-identical batches to workers: 0 (order and augmentation), over two epochs', async () => {
    const opts = { batchSize: 4, shuffle: true, seed: 11, augment };
    const serial = new DataLoader(synth(), opts);
    const threaded = new DataLoader(synth(), { ...opts, workers: 2 });
    for (const epoch of [0, 1]) {
      const [a, b] = [await all(serial, epoch), await all(threaded, epoch)];
      expect(a).toHaveLength(3);
      expectSameBatches(a, b);
      expect(threaded.liveWorkers).toBe(0); // terminated when the iteration ended
    }
    expect(threaded.workers).toBe(2);
  });

  it('terminates its workers when the loop is broken off, and at close()', async () => {
    const loader = new DataLoader(synth(), { batchSize: 2, workers: 2 });
    for await (const _ of loader.hostBatches(0)) {
      expect(loader.liveWorkers).toBe(2);
      break;
    }
    expect(loader.liveWorkers).toBe(0);
    const it = loader.hostBatches(1);
    await it.next();
    expect(loader.liveWorkers).toBe(2);
    await loader.close();
    expect(loader.liveWorkers).toBe(0);
    await it.return(undefined);
  });

  it('needs a recipe and plain augmentation options', () => {
    const own: Dataset = { info: synth().info, length: 2, get: (i) => synth().get(i) };
    expect(() => new DataLoader(own, { batchSize: 1, workers: 1 })).toThrow(ArgumentError);
    expect(() => new DataLoader(own, { batchSize: 1, workers: 1 })).toThrow(/workers need a dataset recipe/);
    expect(() => new DataLoader(own, { batchSize: 1 })).not.toThrow();
    expect(() => new DataLoader(synth(), { batchSize: 1, workers: 1, augment: (s) => s })).toThrow(/augmentation function cannot cross into worker threads/);
    expect(() => new DataLoader(synth(), { batchSize: 1, workers: -1 })).toThrow(ArgumentError);
  });

  it('the recipes rebuild the same dataset', () => {
    const ds = new SyntheticScenes({ size: [32, 40], length: 3, seed: 5, split: 'val', tasks: ['depth', 'semseg'] });
    const again = new SyntheticScenes(ds.recipe().options);
    expect(again.info).toEqual(ds.info);
    expect(bytes(again.getSync(2).depth!).equals(bytes(ds.getSync(2).depth!))).toBe(true);
  });

  describe('with NYUD files', () => {
    const [H, W] = [6, 8];
    const ids = ['a', 'b', 'c', 'd'];
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), 'webmtl-workers-'));
      put(join(root, 'gt_sets', 'train.txt'), ids.join('\n'));
      ids.forEach((id, k) => {
        put(join(root, 'images', `${id}.jpg`), jpeg(W, H, Uint8Array.from({ length: H * W * 3 }, (_, i) => (i * 5 + k * 40) % 256)));
        put(join(root, 'segmentation', `${id}.png`), png(W, H, 1, Uint8Array.from({ length: H * W }, (_, p) => (p + k) % 41)));
        put(join(root, 'depth', `${id}.npy`), npy('<f4', [H, W], Array.from({ length: H * W }, (_, p) => (p % 4) + k)));
      });
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it('read files in the workers as on the calling thread; a missing file is the same DatasetError at the same batch', async () => {
      const ds = await NyudDataset.open(root, { tasks: ['semseg', 'depth'] });
      expect(NyudDataset.fromRecipe(ds.recipe()).info).toEqual(ds.info);
      const opts = { batchSize: 2, augment: { flipProbability: 0.5 } };
      expectSameBatches(await all(new DataLoader(ds, opts), 0), await all(new DataLoader(ds, { ...opts, workers: 2 }), 0));

      unlinkSync(join(root, 'depth', 'c.npy')); // after open(): found missing only when batch 1 reads it
      const failure = async (workers: number): Promise<[number, unknown]> => {
        let k = 0;
        try {
          for await (const _ of new DataLoader(ds, { ...opts, workers }).hostBatches(0)) k++;
        } catch (e) {
          return [k, e];
        }
        return [k, null];
      };
      const [k0, e0] = await failure(0);
      const [k1, e1] = await failure(2);
      expect(e0).toBeInstanceOf(DatasetError);
      expect(e1).toBeInstanceOf(DatasetError);
      expect([k1, (e1 as Error).message]).toEqual([k0, (e0 as Error).message]);
      expect(k1).toBe(1);
      expect((e1 as DatasetError).path).toBe(join(root, 'depth', 'c.npy'));
    });
  });

  it('lets the process exit while an abandoned loader still has idle workers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webmtl-workers-exit-'));
    try {
      const src = resolve('src/data');
      const script = join(dir, 'abandon.mts');
      writeFileSync(
        script,
        `import { DataLoader } from ${JSON.stringify(join(src, 'loader.ts'))};\n` +
          `import { SyntheticScenes } from ${JSON.stringify(join(src, 'synthetic/dataset.ts'))};\n` +
          'const loader = new DataLoader(new SyntheticScenes({ size: 32, length: 8, seed: 1 }), { batchSize: 2, workers: 2 });\n' +
          'const it = loader.hostBatches(0);\n' +
          'const first = await it.next();\n' +
          "console.log('got', first.value.ids.length, 'live', loader.liveWorkers);\n",
      );
      const t0 = Date.now();
      const r = spawnSync(resolve('node_modules/.bin/tsx'), [script], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.signal).toBe(null); // not killed by the timeout: it exited on its own
      expect([r.status, r.stdout.trim()]).toEqual([0, 'got 2 live 2']);
      expect(Date.now() - t0).toBeLessThan(60_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
