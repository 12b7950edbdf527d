// Checkpoints: what the file holds, round trips of model/optimizer/schedule/generators, atomic
// saves (failed rename, failed write, a writer killed with SIGKILL), resuming a
// training run bit for bit, and loads that must fail with a typed error and change nothing.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { parseFile, runChecker, snapshot, tempDir, tensorBits } from './helpers.js';

const live = () => w.runtime().memory().live;
const { dir, cleanup } = tempDir('ckpt');
afterAll(cleanup);
afterEach(() => vi.restoreAllMocks());

/** A small model with parameters, f32 buffers and an i32 buffer (BatchNorm2d's counter). */
class Net extends w.Module {
  readonly body: w.Sequential;
  readonly bn: w.BatchNorm2d;
  readonly head: w.Linear | null;

  constructor(seed: number, opts: { hidden?: number; head?: boolean } = {}) {
    super();
    const generator = new w.Generator(seed);
    const hidden = opts.hidden ?? 8;
    this.body = this.child('body', new w.Sequential(new w.Linear(4, hidden, { generator }), new w.ReLU(), new w.Linear(hidden, 2, { generator })));
    this.bn = this.child('bn', new w.BatchNorm2d(3));
    this.head = opts.head ? this.child('head', new w.Linear(2, 2, { generator })) : null;
  }

  forward(x: w.Tensor): w.Tensor {
    return this.body.forward(x);
  }
}

/** A minimal optimizer of the `{tensors, meta}` shape, to test the structural interface. */
class ToyOptimizer implements w.CheckpointOptimizer {
  tensors = new Map<string, w.Tensor>();
  meta: { momentum: number; note: string } = { momentum: 0.9, note: 'toy' };
  loads = 0;

  constructor(shapes: Record<string, number[]>, seed: number) {
    for (const [k, s] of Object.entries(shapes)) this.tensors.set(k, w.keep(w.rand(s, { seed: seed++ })));
  }

  stateDict() {
    return { tensors: this.tensors, meta: this.meta };
  }

  loadStateDict(s: unknown): void {
    const { tensors, meta } = s as { tensors: Map<string, w.Tensor>; meta: { momentum: number; note: string } };
    for (const [k, t] of tensors) {
      const own = this.tensors.get(k);
      if (!own || own.size !== t.size) throw new w.ArgumentError('ToyOptimizer', `bad state '${k}'`);
    }
    for (const [k, t] of tensors) {
      const own = this.tensors.get(k)!;
      if (t.size) own.runtime.copy(t.bufferFor('toy'), 0, own.bufferFor('toy'), 0, t.size * 4);
    }
    this.meta = { ...meta };
    this.loads++;
  }

  async values(): Promise<Record<string, number[]>> {
    const out: Record<string, number[]> = {};
    for (const [k, t] of this.tensors) out[k] = await tensorBits(t);
    return out;
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
  }
}

/** A training run: model, optimizer, LR schedule and the generator that draws its data. */
interface Run {
  net: Net;
  opt: w.SGD | w.AdamW;
  sched: w.LRScheduler;
  gen: w.Generator;
}

function makeRun(kind: 'SGD' | 'AdamW', modelSeed: number, dataSeed: number): Run {
  const net = new Net(modelSeed);
  const opt = kind === 'SGD' ? new w.SGD(net.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }) : new w.AdamW(net.parameters(), { lr: 0.01 });
  const sched = new w.LRScheduler(opt, w.stepLR({ stepSize: 2, gamma: 0.5 }));
  return { net, opt, sched, gen: new w.Generator(dataSeed) };
}

/** One step: random batch from the run's generator, MSE loss, backward, update, BN statistics. */
function trainStep(r: Run): void {
  w.tidy(() => {
    const x = w.randn([16, 4], { generator: r.gen });
    const y = w.randn([16, 2], { generator: r.gen });
    w.backward(w.mseLoss(r.net.forward(x), y));
    w.noGrad(() => r.net.bn.forward(w.randn([2, 3, 2, 2], { generator: r.gen })));
  });
  r.opt.step();
  r.sched.step();
  r.opt.zeroGrad();
}

function disposeRun(r: Run): void {
  r.opt.dispose();
  r.net.dispose();
}

/** Bit patterns of every optimizer state tensor, by dotted path. */
async function optimBits(opt: w.SGD | w.AdamW): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  const sd = opt.stateDict();
  for (const [i, e] of Object.entries(sd.state)) for (const [n, t] of Object.entries(e.buffers)) out[`${i}.${n}`] = await tensorBits(t);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
}

describe.each(devices())('checkpoints on %s', () => {
  describe('file contents', () => {
    it('one safetensors file: model.* and optim.* tensors, JSON metadata (format, version, step, optimizer, schedule, rng, extra)', async () => {
      const r = makeRun('AdamW', 1, 2);
      trainStep(r);
      const path = join(dir, 'contents.safetensors');
      await w.saveCheckpoint(path, { model: r.net, optimizer: r.opt, schedule: r.sched, rng: { data: r.gen }, step: 1, extra: { epoch: 0, best: null, tags: ['a'] } });
      const { tensors, metadata } = await w.loadSafetensors(path);
      const names = [...tensors.keys()];
      expect(names.filter((k) => k.startsWith('model.')).sort()).toEqual([...r.net.stateDict().keys()].map((k) => `model.${k}`).sort());
      expect(names.filter((k) => !k.startsWith('model.')).sort()).toEqual(
        [0, 1, 2, 3].flatMap((i) => [`optim.state.${i}.buffers.exp_avg`, `optim.state.${i}.buffers.exp_avg_sq`]).sort(),
      );
      expect(tensors.get('model.bn.num_batches_tracked')!.dtype).toBe('i32');
      expect(Object.keys(metadata).sort()).toEqual(['extra', 'format', 'optimizer', 'rng', 'schedule', 'step', 'version']);
      const parsed = Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, JSON.parse(v)]));
      expect(parsed.format).toBe('webmtl.checkpoint');
      expect(parsed.version).toBe(1);
      expect(parsed.step).toBe(1);
      expect(parsed.rng).toEqual({ data: r.gen.state });
      expect(parsed.schedule).toEqual(r.sched.stateDict());
      expect(parsed.extra).toEqual({ epoch: 0, best: null, tags: ['a'] });
      expect(parsed.optimizer.kind).toBe('AdamW');
      expect(parsed.optimizer.state['0'].buffers.exp_avg).toEqual({ $tensor: 'state.0.buffers.exp_avg' });
      expect(parsed.optimizer.paramGroups[0].lr).toBe(r.opt.paramGroups[0]!.lr);
      // Header layout as any safetensors writer: padded, data 8-byte aligned.
      expect(parseFile(new Uint8Array(readFileSync(path))).n % 8).toBe(0);
      for (const t of tensors.values()) t.dispose();
      disposeRun(r);
    });

    it('the checkpoint passes the Python checker with the reference layout', async () => {
      const r = makeRun('SGD', 1, 2);
      trainStep(r);
      const path = join(dir, 'py.safetensors');
      await w.saveCheckpoint(path, { model: r.net, optimizer: r.opt, step: 1 });
      const out = runChecker([path, '--strict-layout']);
      expect(out.out).toMatch(/^OK .*layout as the reference writer/);
      disposeRun(r);
    });
  });

  describe('round trips', () => {
    it('saves and restores a dropout generator ({seed, offset} state) beside integer generators', async () => {
      const net = new Net(1);
      const drop = new w.DropoutRng(123, 0);
      drop.next();
      drop.next();
      const data = new w.Generator(42);
      const path = join(dir, 'dropout-rng.safetensors');
      await w.saveCheckpoint(path, { model: net, step: 2, rng: { data, dropout: drop } });
      const drop2 = new w.DropoutRng(1, 0);
      const data2 = new w.Generator(1);
      await w.loadCheckpoint(path, { model: new Net(2), rng: { data: data2, dropout: drop2 } });
      expect(drop2.getState()).toEqual({ seed: 123, offset: 2 });
      expect(data2.state).toBe(data.state);
      // A damaged dropout state is refused before anything is restored.
      // Same length, so the file stays well-formed: only the seed becomes invalid.
      const text = readFileSync(path).toString('latin1');
      const bytes = text.replace('"seed\\":123', '"seed\\":-12');
      expect(bytes).not.toBe(text);
      writeFileSync(path, Buffer.from(bytes, 'latin1'));
      const fresh = new Net(3);
      const before = await snapshot(fresh);
      const drop3 = new w.DropoutRng(7, 1);
      await expect(w.loadCheckpoint(path, { model: fresh, rng: { data: new w.Generator(5), dropout: drop3 } })).rejects.toThrow(/generator 'dropout' has invalid state/);
      expect(drop3.getState()).toEqual({ seed: 7, offset: 1 });
      expect(await snapshot(fresh)).toEqual(before);
      for (const m of [net, fresh]) m.dispose();
    });

    it('model, structural optimizer, {state} schedule, generator list, step and extra restore exactly', async () => {
      const a = new Net(1);
      a.bn.loadStateDict({ ...Object.fromEntries(a.bn.stateDict()), num_batches_tracked: w.fromArray([41], [], { dtype: 'i32' }) });
      const optA = new ToyOptimizer({ v: [2, 3], s: [] }, 10);
      optA.meta = { momentum: 0.5, note: 'saved' };
      const schedA = { state: { lr: 0.25, history: [1, 0.5, 0.25], done: false } };
      const gensA = [new w.Generator(5), new w.Generator(6)];
      gensA[0]!.next();
      const path = join(dir, 'rt.safetensors');
      await w.saveCheckpoint(path, { model: a, optimizer: optA, schedule: schedA, rng: gensA, step: 1234, extra: { epoch: 3, name: 'ü', seen: new Map([['a', [1, 2]]]) } });

      const b = new Net(2);
      const optB = new ToyOptimizer({ v: [2, 3], s: [] }, 20);
      const schedB = { state: {} as unknown };
      const gensB = [new w.Generator(0), new w.Generator(0)];
      const info = await w.loadCheckpoint(path, { model: b, optimizer: optB, schedule: schedB, rng: gensB });
      expect(info.step).toBe(1234);
      expect(info.extra).toEqual({ epoch: 3, name: 'ü', seen: new Map([['a', [1, 2]]]) });
      expect(info).toMatchObject({ missing: [], unexpected: [], skipped: [] });
      expect(await snapshot(b)).toEqual(await snapshot(a));
      expect(await b.bn.numBatchesTracked.toArray()).toEqual([41]);
      expect(await optB.values()).toEqual(await optA.values());
      expect(optB.meta).toEqual({ momentum: 0.5, note: 'saved' });
      expect(schedB.state).toEqual(schedA.state);
      expect(gensB.map((g) => g.state)).toEqual(gensA.map((g) => g.state));
      expect(gensB[0]!.next()).toBe(gensA[0]!.next());
      for (const m of [a, b]) m.dispose();
      optA.dispose();
      optB.dispose();
    });

    it('in memory (encodeCheckpoint/restoreCheckpoint) gives the same bytes as the file', async () => {
      const a = new Net(3);
      const path = join(dir, 'mem.safetensors');
      await w.saveCheckpoint(path, { model: a, step: 7 });
      const bytes = await w.encodeCheckpoint({ model: a, step: 7 });
      expect(Buffer.compare(Buffer.from(bytes), readFileSync(path))).toBe(0);
      const b = new Net(4);
      expect(w.restoreCheckpoint(bytes, { model: b }).step).toBe(7);
      expect(await snapshot(b)).toEqual(await snapshot(a));
      a.dispose();
      b.dispose();
    });

    it('leaks no GPU memory: temporary tensors of a load are freed', async () => {
      const a = new Net(3);
      const opt = new ToyOptimizer({ v: [4] }, 1);
      const path = join(dir, 'leak.safetensors');
      await w.saveCheckpoint(path, { model: a, optimizer: opt, step: 0 });
      const before = live();
      await w.loadCheckpoint(path, { model: a, optimizer: opt });
      await w.runtime().sync();
      expect(live()).toBe(before);
      a.dispose();
      opt.dispose();
    });

    it('non-strict loads report missing and unexpected model keys and skip absent sections', async () => {
      const small = new Net(1);
      const path = join(dir, 'nonstrict.safetensors');
      await w.saveCheckpoint(path, { model: small, step: 2 });
      const big = new Net(2, { head: true });
      const headBefore = await tensorBits(big.head!.weight);
      const opt = new ToyOptimizer({ v: [1] }, 3);
      const gen = new w.Generator(9);
      const info = await w.loadCheckpoint(path, { model: big, optimizer: opt, rng: [gen], schedule: { state: 1 }, strict: false });
      expect(info.missing).toEqual(['head.weight', 'head.bias']);
      expect(info.unexpected).toEqual([]);
      expect(info.skipped).toEqual(['optimizer', 'schedule', 'rng']);
      expect(await tensorBits(big.body.layers[0]!.stateDict().get('weight')!)).toEqual(await tensorBits(small.body.layers[0]!.stateDict().get('weight')!));
      expect(await tensorBits(big.head!.weight)).toEqual(headBefore);
      expect(opt.loads).toBe(0);
      expect(gen.state).toBe(new w.Generator(9).state);
      // The other way round: the checkpoint has keys the model lacks.
      const path2 = join(dir, 'nonstrict2.safetensors');
      await w.saveCheckpoint(path2, { model: big, step: 3 });
      const info2 = await w.loadCheckpoint(path2, { model: small, strict: false });
      expect(info2.unexpected).toEqual(['head.bias', 'head.weight']); // file order
      for (const m of [small, big]) m.dispose();
      opt.dispose();
    });
  });

  describe.each(['SGD', 'AdamW'] as const)('kill and resume with %s', (kind) => {
    it('a run checkpointed at step k and resumed in fresh objects matches the uninterrupted run bit for bit', async () => {
      const N = 6;
      const K = 3;
      const straight = makeRun(kind, 1, 7);
      for (let i = 0; i < N; i++) trainStep(straight);

      const first = makeRun(kind, 1, 7);
      for (let i = 0; i < K; i++) trainStep(first);
      const path = join(dir, `resume-${kind}.safetensors`);
      await w.saveCheckpoint(path, { model: first.net, optimizer: first.opt, schedule: first.sched, rng: { data: first.gen }, step: K });
      disposeRun(first); // the "crash": nothing of the first half survives but the file

      const resumed = makeRun(kind, 99, 12345); // different initial weights and data stream
      expect(await snapshot(resumed.net)).not.toEqual(await snapshot(straight.net));
      const info = await w.loadCheckpoint(path, { model: resumed.net, optimizer: resumed.opt, schedule: resumed.sched, rng: { data: resumed.gen } });
      expect(info.step).toBe(K);
      expect(resumed.sched.stepCount).toBe(K);
      for (let i = info.step; i < N; i++) trainStep(resumed);

      expect(await snapshot(resumed.net)).toEqual(await snapshot(straight.net));
      expect(await optimBits(resumed.opt)).toEqual(await optimBits(straight.opt));
      expect(Object.keys(await optimBits(resumed.opt)).length).toBe(kind === 'SGD' ? 4 : 8);
      expect(resumed.opt.paramGroups[0]!.lr).toBe(straight.opt.paramGroups[0]!.lr);
      expect(resumed.gen.state).toBe(straight.gen.state);
      expect(await resumed.net.bn.numBatchesTracked.toArray()).toEqual(await straight.net.bn.numBatchesTracked.toArray());
      disposeRun(straight);
      disposeRun(resumed);
    });
  });

  describe('atomic saves keep the previous checkpoint', () => {
    async function setup(tag: string) {
      const sub = join(dir, tag);
      await fsp.mkdir(sub);
      const path = join(sub, 'ckpt.safetensors');
      const net = new Net(1);
      await w.saveCheckpoint(path, { model: net, step: 1 });
      const old = readFileSync(path);
      const other = new Net(2);
      return { sub, path, net, old, other };
    }

    it('a failing rename (simulated crash before the switch) leaves the old file and no temporary file', async () => {
      const { sub, path, net, old, other } = await setup('rename');
      const spy = vi.spyOn(fsp, 'rename').mockRejectedValueOnce(Object.assign(new Error('EIO: simulated crash at rename'), { code: 'EIO' }));
      const err = await rejection(w.saveCheckpoint(path, { model: other, step: 2 }));
      expect(err.message).toMatch(/simulated crash at rename/);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(Buffer.compare(readFileSync(path), old)).toBe(0);
      expect(readdirSync(sub)).toEqual(['ckpt.safetensors']);
      const fresh = new Net(3);
      expect((await w.loadCheckpoint(path, { model: fresh })).step).toBe(1);
      expect(await snapshot(fresh)).toEqual(await snapshot(net));
      // And the next save goes through.
      await w.saveCheckpoint(path, { model: other, step: 2 });
      expect((await w.loadCheckpoint(path, { model: fresh })).step).toBe(2);
      for (const m of [net, other, fresh]) m.dispose();
    });

    it('a write that fails half way (disk full) leaves the old file and no temporary file', async () => {
      const { sub, path, net, old, other } = await setup('enospc');
      const probe = await fsp.open(path, 'r');
      const proto = Object.getPrototypeOf(probe) as { writeFile: (data: Uint8Array) => Promise<void> };
      await probe.close();
      vi.spyOn(proto, 'writeFile').mockImplementationOnce(async function (this: fsp.FileHandle, data: Uint8Array) {
        await this.write(data.subarray(0, data.length >> 1));
        throw Object.assign(new Error('ENOSPC: no space left on device (simulated)'), { code: 'ENOSPC' });
      });
      const err = await rejection(w.saveCheckpoint(path, { model: other, step: 2 }));
      expect(err.message).toMatch(/ENOSPC/);
      expect(Buffer.compare(readFileSync(path), old)).toBe(0);
      expect(readdirSync(sub)).toEqual(['ckpt.safetensors']);
      for (const m of [net, other]) m.dispose();
    });

    it('a writer killed with SIGKILL at arbitrary moments always leaves a complete file', async () => {
      const sub = join(dir, 'sigkill');
      await fsp.mkdir(sub);
      const path = join(sub, 'file.safetensors');
      const script = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
      const repo = fileURLToPath(new URL('../../', import.meta.url));
      let interrupted = 0;
      for (const delayMs of [5, 23, 47, 81]) {
        const child = spawn(process.execPath, ['--import', 'tsx', script, path], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
        // Wait until at least two saves finished (the file exists), then let it run a little.
        await new Promise<void>((res, rej) => {
          let lines = 0;
          child.stdout.on('data', (d: Buffer) => {
            lines += d.toString().split('\n').length - 1;
            if (lines >= 2) res();
          });
          void exited.then((code) => rej(new Error(`crash-writer exited early (${code}): ${stderr}`)));
        });
        await new Promise((res) => setTimeout(res, delayMs));
        child.kill('SIGKILL');
        await exited;
        const bytes = new Uint8Array(readFileSync(path));
        const { tensors, metadata } = w.decodeSafetensorsHost(bytes, path);
        const x = tensors.get('x')!.data;
        const expected = Number(metadata.parity);
        expect(x.length).toBe(1 << 22);
        expect(x.every((v) => v === expected)).toBe(true);
        const temps = readdirSync(sub).filter((f) => f.endsWith('.tmp'));
        if (temps.length) interrupted++;
        for (const t of temps) await fsp.rm(join(sub, t));
      }
      console.log(`crash test: ${interrupted} of 4 kills landed during a write (temporary file left behind); the target was whole every time`);
    });
  });

  describe('loads that do not fit raise a typed error and change nothing', () => {
    /** Everything a load could touch, as plain values. */
    async function state(net: Net, extra: { opt?: ToyOptimizer; sched?: { state: unknown }; gens?: w.Generator[] } = {}) {
      return {
        model: await snapshot(net),
        opt: extra.opt ? { values: await extra.opt.values(), meta: extra.opt.meta, loads: extra.opt.loads } : null,
        sched: extra.sched ? JSON.stringify(extra.sched.state) : null,
        gens: extra.gens?.map((g) => g.state) ?? null,
      };
    }

    async function saved(tag: string, net: Net, more: Partial<w.CheckpointState> = {}): Promise<string> {
      const path = join(dir, `${tag}.safetensors`);
      await w.saveCheckpoint(path, { model: net, step: 5, ...more });
      return path;
    }

    it('wrong shapes: CheckpointError (a StateDictError) listing them; model, optimizer, schedule, generators unchanged', async () => {
      const src = new Net(1, { hidden: 8 });
      const path = await saved('shapes', src, { optimizer: new ToyOptimizer({ v: [2] }, 1), schedule: { state: 3 }, rng: [new w.Generator(1)] });
      const net = new Net(2, { hidden: 9 });
      const opt = new ToyOptimizer({ v: [2] }, 5);
      const sched = { state: 'before' as unknown };
      const gens = [new w.Generator(77)];
      const before = await state(net, { opt, sched, gens });
      const mem = live();
      const err = await rejection(w.loadCheckpoint(path, { model: net, optimizer: opt, schedule: sched, rng: gens }));
      expect(err).toBeInstanceOf(w.CheckpointError);
      expect(err).toBeInstanceOf(w.StateDictError);
      const ce = err as w.CheckpointError;
      expect(ce.file).toBe(path);
      expect(ce.mismatched).toEqual([
        'model.body.0.weight: checkpoint [8,4] f32 vs model [9,4] f32',
        'model.body.0.bias: checkpoint [8] f32 vs model [9] f32',
        'model.body.2.weight: checkpoint [2,8] f32 vs model [2,9] f32',
      ]);
      expect(ce.message).toMatch(/^.*shapes\.safetensors: checkpoint does not fit: shape\/dtype mismatch: .*nothing was loaded$/);
      expect(live()).toBe(mem);
      expect(await state(net, { opt, sched, gens })).toEqual(before);
      // Non-strict does not excuse a shape mismatch.
      await expect(w.loadCheckpoint(path, { model: net, strict: false })).rejects.toThrow(w.CheckpointError);
      src.dispose();
      net.dispose();
      opt.dispose();
    });

    it('wrong dtype (i32 buffer saved, f32 expected) is a mismatch', async () => {
      class Counter extends w.Module {
        constructor(dtype: w.DType) {
          super();
          this.buffer('count', w.zeros([2], { dtype }));
        }
      }
      const a = new Counter('i32');
      const b = new Counter('f32');
      const path = join(dir, 'dtype.safetensors');
      await w.saveCheckpoint(path, { model: a, step: 0 });
      await expect(w.loadCheckpoint(path, { model: b })).rejects.toThrow(/model\.count: checkpoint \[2\] i32 vs model \[2\] f32/);
      a.dispose();
      b.dispose();
    });

    it('strict: missing and unexpected keys and absent sections are all reported at once', async () => {
      const src = new Net(1, { head: true });
      const path = await saved('strict', src);
      const net = new Net(2);
      const before = await snapshot(net);
      const err = (await rejection(w.loadCheckpoint(path, { model: net, optimizer: new ToyOptimizer({}, 0), schedule: { state: 0 }, rng: [] }))) as w.CheckpointError;
      expect(err).toBeInstanceOf(w.CheckpointError);
      expect(err.unexpected).toEqual(['head.bias', 'head.weight']);
      expect(err.problems).toEqual([
        'checkpoint model keys the model does not have: head.bias, head.weight',
        'the checkpoint has no optimizer state (load with strict: false to skip it)',
        'the checkpoint has no schedule state (load with strict: false to skip it)',
        'the checkpoint has no rng state (load with strict: false to skip it)',
      ]);
      expect(await snapshot(net)).toEqual(before);
      src.dispose();
      net.dispose();
    });

    it('optimizer tensors of another shape, or a generator layout that differs, are refused before anything is written', async () => {
      const src = new Net(1);
      const path = await saved('optshape', src, { optimizer: new ToyOptimizer({ v: [3] }, 1), rng: { a: new w.Generator(1), b: new w.Generator(2) } });
      const net = new Net(2);
      const opt = new ToyOptimizer({ v: [4] }, 2);
      const gens = { a: new w.Generator(5), c: new w.Generator(6) };
      const before = await state(net, { opt });
      const err = (await rejection(w.loadCheckpoint(path, { model: net, optimizer: opt, rng: gens }))) as w.CheckpointError;
      expect(err.mismatched).toEqual(['optim.tensors.v: checkpoint [3] f32 vs optimizer [4] f32']);
      expect(err.problems).toContain('generators: the checkpoint holds {a, b}, the target {a, c}');
      expect(await state(net, { opt })).toEqual(before);
      expect([gens.a.state, gens.c.state]).toEqual([new w.Generator(5).state, new w.Generator(6).state]);
      const listErr = (await rejection(w.loadCheckpoint(path, { model: net, rng: [new w.Generator(1), new w.Generator(2)], strict: false }))) as w.CheckpointError;
      expect(listErr.problems).toEqual(['generators: the checkpoint holds named generators, the target a list of generators']);
      src.dispose();
      net.dispose();
      opt.dispose();
    });

    it('an optimizer that refuses the state (Adam checkpoint into SGD): CheckpointError with the cause; schedule rolled back, model unchanged', async () => {
      const adam = makeRun('AdamW', 1, 2);
      trainStep(adam);
      trainStep(adam);
      const path = join(dir, 'refused.safetensors');
      await w.saveCheckpoint(path, { model: adam.net, optimizer: adam.opt, schedule: adam.sched, step: 2 });
      const sgd = makeRun('SGD', 3, 4);
      trainStep(sgd);
      const before = { model: await snapshot(sgd.net), optim: await optimBits(sgd.opt), lr: sgd.opt.paramGroups[0]!.lr, sched: sgd.sched.stateDict() };
      const err = (await rejection(w.loadCheckpoint(path, { model: sgd.net, optimizer: sgd.opt, schedule: sgd.sched }))) as w.CheckpointError;
      expect(err).toBeInstanceOf(w.CheckpointError);
      expect(err.message).toMatch(/the optimizer refused the state: .*AdamW/);
      expect(err.cause).toBeInstanceOf(w.ArgumentError);
      expect({ model: await snapshot(sgd.net), optim: await optimBits(sgd.opt), lr: sgd.opt.paramGroups[0]!.lr, sched: sgd.sched.stateDict() }).toEqual(before);
      disposeRun(adam);
      disposeRun(sgd);
    });

    it('damaged or foreign files: FormatError naming the file; the model is unchanged', async () => {
      const src = new Net(1);
      const good = new Uint8Array(readFileSync(await saved('good', src, { extra: { x: 1 } })));
      const plain = await w.encodeSafetensors(new Map([...src.stateDict()].map(([k, t]) => [`model.${k}`, t])));
      const withMeta = async (meta: Record<string, string>) => w.encodeSafetensors(new Map([...src.stateDict()].map(([k, t]) => [`model.${k}`, t])), meta);
      const base = { format: '"webmtl.checkpoint"', version: '1', step: '5' };
      const cases: [string, Uint8Array, RegExp][] = [
        ['truncated', good.subarray(0, good.length - 10), /out of range/],
        ['header length beyond the file', good.subarray(0, 100), /header length \d+ is larger than the file \(100 bytes\)/],
        ['plain safetensors (no format)', plain, /not a webmtl checkpoint \(no "format"/],
        ['another format', await withMeta({ ...base, format: '"other"' }), /not a webmtl checkpoint \(format "other"\)/],
        ['newer version', await withMeta({ ...base, version: '2' }), /version 2 was written by a newer webmtl/],
        ['metadata not JSON', await withMeta({ ...base, extra: '{oops' }), /metadata 'extra' is not valid JSON/],
        ['bad step', await withMeta({ ...base, step: '-1' }), /invalid step -1/],
        ['optimizer reference to a missing tensor', await withMeta({ ...base, optimizer: '{"m":{"$tensor":"m"}}' }), /refers to tensor 'optim\.m', which is not in the file/],
      ];
      const net = new Net(2);
      const before = await snapshot(net);
      for (const [name, bytes, message] of cases) {
        const path = join(dir, `damaged.safetensors`);
        writeFileSync(path, bytes);
        const err = await rejection(w.loadCheckpoint(path, { model: net }));
        expect(err, name).toBeInstanceOf(w.FormatError);
        expect((err as w.FormatError).file, name).toBe(path);
        expect(err.message, name).toMatch(message);
      }
      expect(await snapshot(net)).toEqual(before);
      src.dispose();
      net.dispose();
    });

    it('saving state JSON cannot hold exactly is an ArgumentError, and no file is written', async () => {
      const net = new Net(1);
      const path = join(dir, 'never.safetensors');
      const bad: [string, Partial<w.CheckpointState>, RegExp][] = [
        ['negative step', { step: -1 }, /step must be a non-negative integer/],
        ['fractional step', { step: 1.5 }, /step must be a non-negative integer/],
        ['NaN in extra', { extra: { loss: NaN } }, /extra\.loss is NaN/],
        ['Infinity in the schedule', { schedule: { state: { lr: Infinity } } }, /schedule state\.lr is Infinity/],
        ['a Date in extra', { extra: { when: new Date(0) } }, /extra\.when is a Date/],
        ['a typed array in extra', { extra: [new Float32Array(2)] }, /extra\.0 is a Float32Array/],
        ['a cycle', { extra: (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })() }, /extra\.self is a cycle/],
        ['a tensor in extra', { extra: { t: net.body.layers[0]!.stateDict().get('weight') } }, /extra\.t is a tensor/],
        ['a generator state out of range', { rng: [{ state: -1 }] }, /generator '0' has state -1/],
        ['a reserved key', { extra: { $tensor: 'x' } }, /reserved key '\$tensor'/],
      ];
      for (const [name, more, message] of bad) {
        const err = await rejection(w.saveCheckpoint(path, { model: net, step: 0, ...more }));
        expect(err, name).toBeInstanceOf(w.ArgumentError);
        expect(err.message, name).toMatch(message);
      }
      expect(existsSync(path)).toBe(false);
      net.dispose();
    });
  });
});
