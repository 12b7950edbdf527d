// Fuzzing the PyTorch checkpoint reader as hostile input: the committed torch.save files truncated
// at many lengths, mutated at random (whole files, and data.pkl alone re-wrapped in a valid zip so
// the mutations reach the unpickler), plus hand-made adversarial files (deep nesting, huge sizes,
// offsets out of range, self-referencing containers, zip fields pointing anywhere). Every case must
// end in a value or a FormatError (UnsafePickleError included): any other exception is a crash,
// any case over HANG_MS a hang. Seeded, so a failure reproduces.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { P, f32bytes, rng, storedZip, torchPickle, torchZip } from './pth-helpers.js';

const DIR = new URL('../fixtures/pth/', import.meta.url).pathname;
const NAMES = ['dtypes', 'legacy', 'protocol4', 'ddp', 'model', 'evil'];
// A case this slow counts as a hang (generous: other processes share the CPU; the slowest case
// takes about 0.1 s alone).
const HANG_MS = 5000;

interface Tally {
  cases: number;
  decoded: number;
  decodedLabels: string[];
  refused: number;
  crashes: string[];
  hangs: string[];
  slowestMs: number;
  slowest: string;
}

function run(t: Tally, label: string, bytes: Uint8Array): void {
  t.cases++;
  const t0 = performance.now();
  try {
    w.decodePthHost(bytes, label);
    t.decoded++;
    if (t.decodedLabels.length < 20) t.decodedLabels.push(label);
  } catch (e) {
    if (e instanceof w.FormatError && e.message.startsWith(label)) t.refused++;
    else if (t.crashes.length < 20) t.crashes.push(`${label}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`.slice(0, 300));
    else t.crashes.push(label);
  }
  const ms = performance.now() - t0;
  if (ms > t.slowestMs) [t.slowestMs, t.slowest] = [ms, label];
  if (ms > HANG_MS) t.hangs.push(`${label}: ${ms.toFixed(0)} ms`);
}

const tally = (): Tally => ({ cases: 0, decoded: 0, decodedLabels: [], refused: 0, crashes: [], hangs: [], slowestMs: 0, slowest: '' });
const fixtures = NAMES.map((n) => [n, new Uint8Array(readFileSync(`${DIR}${n}.pth`))] as const);

function mutate(src: Uint8Array, next: () => number): Uint8Array {
  const b = src.slice();
  const edits = 1 + (next() % 4);
  for (let e = 0; e < edits; e++) {
    const at = next() % b.length;
    const kind = next() % 5;
    if (kind === 0) b[at] = next() & 0xff;
    else if (kind === 1) b[at]! ^= 1 << (next() % 8);
    else if (kind === 2) b[at] = [0x00, 0xff, 0x7f, 0x80][next() % 4]!;
    else if (kind === 3) b.copyWithin(at, next() % b.length, (next() % b.length) + 1);
    else {
      // Overwrite four bytes with a large little-endian value (a size, an offset, a count).
      const v = [0xffffffff, 0x7fffffff, 0x80000000, 0x10000][next() % 4]!;
      for (let i = 0; i < 4 && at + i < b.length; i++) b[at + i] = (v >>> (8 * i)) & 0xff;
    }
  }
  return b;
}

/** Hand-made hostile files: each must be refused with a FormatError (never decoded, never a crash). */
function adversarial(): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  const zipOf = (pkl: Uint8Array, st: Record<string, Uint8Array> = {}) => torchZip(pkl, st);
  const deepMarks = new P().proto(2);
  for (let i = 0; i < 100_000; i++) deepMarks.mark();
  out.push(['100k nested MARKs', zipOf(deepMarks.stop().bytes())]);
  const deepLists = new P().proto(2);
  for (let i = 0; i < 200_000; i++) deepLists.emptyList();
  for (let i = 0; i < 199_999; i++) deepLists.append();
  out.push(['200k nested lists', zipOf(deepLists.stop().bytes())]);
  const selfRef = new P().proto(2).emptyDict().put(0).str('me').get(0).setitem().str('w').get(0).setitem();
  out.push(['dict containing itself', zipOf(selfRef.stop().bytes())]);
  out.push(['BINUNICODE8 of 2^62 bytes', zipOf(new P().proto(4).raw(0x8d).u64(2n ** 62n).stop().bytes())]);
  out.push(['BINBYTES8 of 2^53 bytes', zipOf(new P().proto(4).raw(0x8e).u64(2n ** 53n).stop().bytes())]);
  out.push(['BINUNICODE of 4 GiB', zipOf(new P().proto(2).raw(0x58).u32(0xffffffff).stop().bytes())]);
  out.push(['LONG4 of 4 GiB', zipOf(new P().proto(2).raw(0x8b).u32(0xffffffff).stop().bytes())]);
  out.push(['LONG_BINGET 2^32-1', zipOf(new P().proto(2).raw(0x6a).u32(0xffffffff).stop().bytes())]);
  out.push(['FRAME of 2^63', zipOf(new P().proto(4).raw(0x95).u64(2n ** 63n).none().stop().bytes())]);
  out.push(['os.system', zipOf(new P().proto(2).global('os', 'system').mark().str('touch /tmp/pwned').tuple().reduce().stop().bytes())]);
  out.push(['STACK_GLOBAL builtins.exec', zipOf(new P().proto(4).str('builtins').str('exec').raw(0x93).stop().bytes())]);
  out.push(['GLOBAL without newline', zipOf(new P().proto(2).raw(0x63, ...new TextEncoder().encode('os'.repeat(2000))).bytes())]);
  out.push(['no STOP', zipOf(new P().proto(2).none().bytes())]);
  out.push(['pickle protocol 9', zipOf(new P().proto(9).none().stop().bytes())]);
  const one = f32bytes([1, 2, 3, 4]);
  const t = (o: object) => ({ storage: 'FloatStorage', key: '0', numel: 4, offset: 0, shape: [4], stride: [1], ...o });
  out.push(['offset past storage', zipOf(torchPickle({ a: t({ offset: 4 }) }), { '0': one })]);
  out.push(['offset 2^52', zipOf(torchPickle({ a: t({ offset: 2 ** 52 }) }), { '0': one })]);
  out.push(['size 2^31 x 2^31', zipOf(torchPickle({ a: t({ shape: [2 ** 31, 2 ** 31], stride: [1, 1] }) }), { '0': one })]);
  out.push(['stride 2^40', zipOf(torchPickle({ a: t({ shape: [2], stride: [2 ** 40] }) }), { '0': one })]);
  out.push(['numel 2^50 for 16 bytes', zipOf(torchPickle({ a: t({ numel: 2 ** 50 }) }), { '0': one })]);
  out.push(['zero strides (expand)', zipOf(torchPickle({ a: t({ shape: [1 << 16, 1 << 16], stride: [0, 0] }) }), { '0': one })]);
  out.push(['missing storage entry', zipOf(torchPickle({ a: t({ key: 'nope' }) }), { '0': one })]);
  const many: Record<string, ReturnType<typeof t>> = {};
  for (let i = 0; i < 3000; i++) many[`k${i}`] = t({ numel: 4 });
  out.push(['3000 tensors viewing one storage (within budget)', zipOf(torchPickle(many), { '0': one })]);
  const zip = zipOf(torchPickle({ a: t({}) }), { '0': one });
  const eocd64 = zip.length - 22 - 20 - 56;
  const at = (o: number, v: bigint, n: 4 | 8) => {
    const b = zip.slice();
    if (n === 8) new DataView(b.buffer).setBigUint64(o, v, true);
    else new DataView(b.buffer).setUint32(o, Number(v), true);
    return b;
  };
  out.push(['zip64 count 2^63', at(eocd64 + 32, 2n ** 63n, 8)]);
  out.push(['zip64 count 2^20', at(eocd64 + 32, 2n ** 20n, 8)]);
  out.push(['zip64 directory offset 2^60', at(eocd64 + 48, 2n ** 60n, 8)]);
  out.push(['zip64 directory size 2^40', at(eocd64 + 40, 2n ** 40n, 8)]);
  out.push(['zip64 locator pointing nowhere', at(zip.length - 22 - 12, 2n ** 50n, 8)]);
  out.push(['entry size 4 GiB', at(centralOf(zip) + 20, 0xfffffffen, 4)]);
  out.push(['entry local offset 4 GiB', at(centralOf(zip) + 42, 0xfffffff0n, 4)]);
  out.push(['compressed entry', at(centralOf(zip) + 10, 8n, 4)]);
  out.push(['duplicate entry names', storedZip([['a/data.pkl', torchPickle({})], ['a/data.pkl', new Uint8Array(1)]])]);
  out.push(['two data.pkl', storedZip({ 'a/data.pkl': torchPickle({}), 'b/data.pkl': torchPickle({}) })]);
  out.push(['legacy magic then garbage', new P().proto(2).long1(0x1950a86a20f9469cfc6cn, 10).stop().raw(0x80, 2, 0x4d, 0xe9, 0x03, 0x2e, 0xff).bytes()]);
  return out;
}

function centralOf(zip: Uint8Array): number {
  for (let i = 0; i + 4 <= zip.length; i++) if (zip[i] === 0x50 && zip[i + 1] === 0x4b && zip[i + 2] === 0x01 && zip[i + 3] === 0x02) return i;
  throw new Error('no central directory');
}

describe('PyTorch .pth reader under fuzzing', () => {
  it('truncated, mutated and adversarial files give values or FormatErrors only: 0 crashes, 0 hangs', () => {
    const t0 = performance.now();
    const tr = tally();
    for (const [name, bytes] of fixtures) {
      const step = Math.max(1, Math.floor(bytes.length / 150));
      for (let n = 0; n < bytes.length; n += n < 64 || n > bytes.length - 128 ? 1 : step) run(tr, `${name}.pth[:${n}]`, bytes.subarray(0, n));
    }
    const mu = tally();
    const next = rng(0x5eed);
    for (const [name, bytes] of fixtures) for (let i = 0; i < 250; i++) run(mu, `${name}.pth mutant ${i}`, mutate(bytes, next));
    const pk = tally();
    for (const [name, bytes] of fixtures.filter(([n]) => n !== 'legacy')) {
      const entries = w.readZipEntries(bytes, name);
      const pklName = [...entries.keys()].find((k) => k.endsWith('data.pkl'))!;
      const others = Object.fromEntries([...entries].filter(([k]) => k !== pklName).map(([k, v]) => [k, v.slice()]));
      for (let i = 0; i < 250; i++) run(pk, `${name}.pth data.pkl mutant ${i}`, storedZip({ [pklName]: mutate(entries.get(pklName)!, next), ...others }));
    }
    const adv = tally();
    const cases = adversarial();
    for (const [label, bytes] of cases) run(adv, `adversarial: ${label}`, bytes);
    const all = [tr, mu, pk, adv];
    const sum = (f: (t: Tally) => number) => all.reduce((a, t) => a + f(t), 0);
    const slow = all.reduce((a, t) => (t.slowestMs > a.slowestMs ? t : a));
    console.log(
      `pth fuzz: ${sum((t) => t.cases)} cases (truncated ${tr.cases}, mutated ${mu.cases}, data.pkl mutated ${pk.cases}, adversarial ${adv.cases}); ` +
        `decoded ${sum((t) => t.decoded)}, refused with FormatError ${sum((t) => t.refused)}, crashes ${sum((t) => t.crashes.length)}, hangs ${sum((t) => t.hangs.length)}; ` +
        `slowest case ${slow.slowestMs.toFixed(1)} ms (${slow.slowest}), all ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect(all.flatMap((t) => t.crashes)).toEqual([]);
    expect(all.flatMap((t) => t.hangs)).toEqual([]);
    // Only the within-budget shared storage decodes; every other hostile file is refused.
    expect(adv.decodedLabels).toEqual(['adversarial: 3000 tensors viewing one storage (within budget)']);
    expect(adv.refused).toBe(cases.length - 1);
    // The fuzzing reaches deep: some mutants still decode, most are refused.
    expect(mu.decoded + pk.decoded).toBeGreaterThan(0);
    expect(tr.decoded).toBe(0); // a file cut anywhere is refused
  });
});
