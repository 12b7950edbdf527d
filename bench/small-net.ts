/**
 * The other end of the scale: a LeNet-sized two-task classifier (conv 3->6 5x5, pool, conv 6->16
 * 5x5, pool, linear 400->120, two linear heads 120->10; cross-entropy each; Adam) at batch 64 on
 * 32x32 inputs, where the step is a few milliseconds of arithmetic and the per-op cost (JavaScript,
 * bind groups, dispatch, submit) decides. Timed round-robin against the same step in PyTorch on the
 * CPU (bench/torch/small_net.py, same threads), in blocks of `per` steps each ending in a GPU sync.
 *
 *   npx tsx bench/small-net.ts [--rounds 7] [--per 20] [--profile]
 *
 * --profile also prints the share of GPU time per kernel (timestamp queries) and the dispatches
 * and submits per step.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as w from '../src/index.js';
import { hostInfo } from './host.js';
import { median, type BenchRow } from './timing.js';

/** The two-task LeNet. */
class LeNet2 extends w.Module {
  readonly conv1 = this.child('conv1', new w.Conv2d(3, 6, 5, { generator: new w.Generator(1) }));
  readonly conv2 = this.child('conv2', new w.Conv2d(6, 16, 5, { generator: new w.Generator(2) }));
  readonly fc = this.child('fc', new w.Linear(400, 120, { generator: new w.Generator(3) }));
  readonly headA = this.child('head_a', new w.Linear(120, 10, { generator: new w.Generator(4) }));
  readonly headB = this.child('head_b', new w.Linear(120, 10, { generator: new w.Generator(5) }));
  forward(x: w.Tensor): [w.Tensor, w.Tensor] {
    const h1 = w.maxPool2d(this.conv1.forward(x, { activation: 'relu' }), 2);
    const h2 = w.maxPool2d(this.conv2.forward(h1, { activation: 'relu' }), 2);
    const h = w.relu(this.fc.forward(w.reshape(h2, [x.shape[0]!, 400])));
    return [this.headA.forward(h), this.headB.forward(h)];
  }
}

/** The model, its optimiser and one fixed batch; `step()` encodes one training step. */
export function buildSmallNet() {
  const net = new LeNet2();
  const opt = new w.Adam(net.parameters(), { lr: 1e-3 });
  const x = w.randn([64, 3, 32, 32], { seed: 7 });
  const ya = w.randint([64], 0, 10, { seed: 8 });
  const yb = w.randint([64], 0, 10, { seed: 9 });
  const step = () =>
    w.tidy(() => {
      opt.zeroGrad();
      const [a, b] = net.forward(x);
      w.backward(w.add(w.crossEntropy(a, ya), w.crossEntropy(b, yb)));
      opt.step();
    });
  const dispose = () => {
    for (const t of [x, ya, yb]) t.dispose();
    opt.dispose?.();
    net.dispose();
  };
  return { step, dispose };
}

interface Peer {
  header: { torch: string; threads: number };
  run(n: number): Promise<number>;
  close(): void;
}

async function startPeer(threads: number): Promise<Peer | string> {
  const script = fileURLToPath(new URL('./torch/small_net.py', import.meta.url));
  const child = spawn('/usr/bin/python3', [script, String(threads)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) return stderr.trim().split('\n').pop() || 'python3 did not start';
  return {
    header: JSON.parse(first.value as string) as Peer['header'],
    async run(n) {
      child.stdin.write(`step ${n}\n`);
      return Number((await lines.next()).value);
    },
    close() {
      child.stdin.write('quit\n');
      child.stdin.end();
    },
  };
}

/** ms per step for ours and PyTorch's, interleaved; the bench row. */
export async function benchSmallNet(opts: { rounds?: number; per?: number; profile?: boolean } = {}): Promise<BenchRow[]> {
  const rt = w.runtime();
  const rounds = opts.rounds ?? 7;
  const per = opts.per ?? 20;
  const net = buildSmallNet();
  for (let i = 0; i < 5; i++) net.step();
  await rt.sync();
  const peer = await startPeer(hostInfo().cores);
  if (typeof peer !== 'string') await peer.run(5);
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < per; i++) net.step();
    await rt.sync();
    ours.push((performance.now() - t0) / per);
    if (typeof peer !== 'string') theirs.push((await peer.run(per)) / per);
  }
  if (opts.profile && rt.profiler) {
    const before = rt.dispatchCount;
    rt.profiler.enabled = true;
    net.step();
    await rt.sync();
    const times = await rt.profiler.collect();
    rt.profiler.enabled = false;
    const by = new Map([...times].map(([k, t]) => [k, t.ms] as const));
    const total = [...by.values()].reduce((s, v) => s + v, 0);
    process.stdout.write(`dispatches per step: ${rt.dispatchCount - before}; GPU time ${total.toFixed(2)} ms\n`);
    for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 12)) process.stdout.write(`  ${k.padEnd(28)} ${v.toFixed(3)} ms\n`);
  }
  if (typeof peer !== 'string') peer.close();
  net.dispose();
  const m = median(ours);
  // images/s over the batch of 64; the peer is PyTorch's same step (ratio = its ms / ours).
  const t = typeof peer !== 'string' ? median(theirs) : null;
  return [
    {
      op: 'small net step',
      shape: '64x3x32x32 LeNet, 2 tasks',
      ms: m,
      value: (64 * 1000) / m,
      unit: 'images/s',
      peer: typeof peer !== 'string' ? `PyTorch CPU ${peer.header.torch}, ${peer.header.threads} threads` : `PyTorch not run: ${peer}`,
      peerMs: t,
      ...(t !== null ? { ratio: t / m } : {}),
    } as BenchRow,
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, per: { type: 'string', default: '20' }, profile: { type: 'boolean', default: false } } });
  await w.init();
  const h = hostInfo();
  process.stdout.write(`host: ${h.cpu}, ${h.cores} cores, ${h.adapter} (vector ${h.vectorBits ?? '-'} bits)\n`);
  for (const r of await benchSmallNet({ rounds: Number(values.rounds), per: Number(values.per), profile: values.profile })) {
    const vs = r.peerMs ? `; ${r.peer}: ${r.peerMs.toFixed(2)} ms, ours = ${(r.ms / r.peerMs).toFixed(2)}x its time` : `; ${r.peer}`;
    process.stdout.write(`${r.op} ${r.shape}: ${r.ms.toFixed(2)} ms (${r.value.toFixed(0)} ${r.unit})${vs}\n`);
  }
  w.shutdown();
}
