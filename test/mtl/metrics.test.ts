import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { rng } from '../helpers/rng.js';


const f32 = (data: number[], shape: number[]): w.Tensor => w.fromArray(data, shape, { dtype: 'f32' });
const i32 = (data: number[], shape: number[]): w.Tensor => w.fromArray(data, shape, { dtype: 'i32' });

/** Batch items [from, to) of a row-major array whose items have `per` elements. */
const items = (a: number[], per: number, from: number, to: number): number[] => a.slice(from * per, to * per);

function expectClose(actual: Record<string, number>, expected: Record<string, number>, digits = 9): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const k of Object.keys(expected)) expect(actual[k], k).toBeCloseTo(expected[k]!, digits);
}

describe.each(devices())('metrics on %s', () => {
  describe('SegmentationMetric', () => {
    it('hand-computed mIoU and pixel accuracy, with ignoreIndex', async () => {
      const m = new w.SegmentationMetric(3);
      // valid pixels: (t0,p0) (t1,p1) (t2,p1); IoU: class0 1/1, class1 1/2, class2 0/1
      await m.update(i32([0, 1, 1, 2], [1, 2, 2]), i32([0, 1, 2, 255], [1, 2, 2]));
      expectClose(m.compute(), { mIoU: 0.5, pixelAcc: 2 / 3 });
      expect(Object.keys(m.higherIsBetter).sort()).toEqual(['mIoU', 'pixelAcc']);
    });

    it('classes absent from target and prediction: IoU 0 by default (survey), or left out of the mean', async () => {
      const z = new w.SegmentationMetric(5, -1);
      await z.update(i32([0, 1, 1, 2], [1, 1, 2, 2]), i32([0, 1, 2, -1], [1, 1, 2, 2]));
      expectClose(z.compute(), { mIoU: 1.5 / 5, pixelAcc: 2 / 3 });
      expect(() => new w.SegmentationMetric(5, 255, { absentClasses: 'skip' as 'zero' })).toThrow(/absentClasses/);
      const m = new w.SegmentationMetric(5, -1, { absentClasses: 'exclude' });
      await m.update(i32([0, 1, 1, 2], [1, 1, 2, 2]), i32([0, 1, 2, -1], [1, 1, 2, 2]));
      expectClose(m.compute(), { mIoU: 0.5, pixelAcc: 2 / 3 });
      expect(Array.from(m.classIoU()).map((v) => (Number.isNaN(v) ? 'nan' : v))).toEqual([1, 0.5, 0, 'nan', 'nan']);
    });

    it('logits: argmax over C; several updates equal one update on the concatenation; masks', async () => {
      const C = 4, N = 3, H = 3, W = 5, hw = H * W;
      const r = rng(1);
      const logits = Array.from({ length: N * C * hw }, () => r() * 4 - 2);
      const labels = Array.from({ length: N * hw }, () => (r() < 0.15 ? 255 : Math.floor(r() * C)));
      const mask = Array.from({ length: N * hw }, () => (r() < 0.2 ? 0 : 1));
      const ref = (useMask: boolean): { mIoU: number; pixelAcc: number } => {
        const conf = Array.from({ length: C }, () => new Array<number>(C).fill(0));
        for (let n = 0; n < N; n++)
          for (let i = 0; i < hw; i++) {
            const t = labels[n * hw + i]!;
            if (t === 255 || (useMask && mask[n * hw + i] === 0)) continue;
            let best = 0;
            for (let c = 1; c < C; c++) if (logits[(n * C + c) * hw + i]! > logits[(n * C + best) * hw + i]!) best = c;
            conf[t]![best]!++;
          }
        let sum = 0, k = 0, tot = 0, ok = 0;
        for (let c = 0; c < C; c++) {
          let row = 0, col = 0;
          for (let j = 0; j < C; j++) (row += conf[c]![j]!), (col += conf[j]![c]!), (tot += conf[c]![j]!);
          ok += conf[c]![c]!;
          const u = row + col - conf[c]![c]!;
          if (u > 0) (sum += conf[c]![c]! / u), k++;
        }
        return { mIoU: sum / k, pixelAcc: ok / tot };
      };
      const whole = new w.SegmentationMetric(C);
      await whole.update(f32(logits, [N, C, H, W]), i32(labels, [N, H, W]));
      expectClose(whole.compute(), ref(false));
      const parts = new w.SegmentationMetric(C);
      await parts.update(f32(items(logits, C * hw, 0, 1), [1, C, H, W]), i32(items(labels, hw, 0, 1), [1, 1, H, W]));
      await parts.update(f32(items(logits, C * hw, 1, 3), [2, C, H, W]), i32(items(labels, hw, 1, 3), [2, H, W]));
      expectClose(parts.compute(), whole.compute(), 12);
      const masked = new w.SegmentationMetric(C);
      await masked.update(f32(logits, [N, C, H, W]), i32(labels, [N, H, W]), f32(mask, [N, 1, H, W]));
      expectClose(masked.compute(), ref(true));
      masked.reset();
      expect(Number.isNaN(masked.compute().mIoU)).toBe(true);
    });

    it('rejects bad input with typed errors naming the metric', async () => {
      const m = new w.SegmentationMetric(3);
      await expect(m.update(f32(new Array(2 * 2 * 2).fill(0), [1, 2, 2, 2]), i32([0, 0, 0, 0], [1, 2, 2]))).rejects.toThrow(
        w.ShapeError,
      );
      await expect(m.update(i32([0, 0, 0], [1, 1, 3]), i32([0, 0, 0, 0], [1, 2, 2]))).rejects.toThrow(/SegmentationMetric/);
      await expect(m.update(i32([0, 0, 0, 0], [1, 2, 2]), f32([0, 0, 0, 0], [1, 2, 2]))).rejects.toThrow(w.DTypeError);
      await expect(m.update(i32([0, 0, 0, 0], [1, 2, 2]), i32([0, 7, 0, 3], [1, 2, 2]))).rejects.toThrow(w.LabelError);
      await expect(
        m.update(i32([0, 0, 0, 0], [1, 2, 2]), i32([0, 0, 0, 0], [1, 2, 2]), f32([1, 1, 1], [1, 1, 3])),
      ).rejects.toThrow(w.ShapeError);
    });
  });

  describe('DepthMetric', () => {
    it('hand-computed rmse, absRel and logRmse over target > 0', async () => {
      const m = new w.DepthMetric();
      await m.update(f32([1, 2, 4], [1, 1, 1, 3]), f32([2, 2, 0], [1, 1, 1, 3]));
      expectClose(m.compute(), { rmse: Math.sqrt(0.5), absRel: 0.25, logRmse: Math.log(2) / Math.SQRT2 });
      expect(m.higherIsBetter).toEqual({ rmse: false, absRel: false, logRmse: false });
    });

    it('sums over all valid pixels of the dataset (not per image); masks', async () => {
      const N = 3, hw = 12, r = rng(2);
      const p = Array.from({ length: N * hw }, () => 0.5 + r() * 5);
      const t = Array.from({ length: N * hw }, (_, i) => (i < hw ? (r() < 0.7 ? 0 : 1 + r()) : r() < 0.2 ? 0 : 1 + r() * 6));
      const mask = Array.from({ length: N * hw }, () => (r() < 0.3 ? 0 : 1));
      const ref = (useMask: boolean): Record<string, number> => {
        let n = 0, sq = 0, rel = 0, lg = 0;
        for (let i = 0; i < N * hw; i++) {
          const tv = Math.fround(t[i]!), pv = Math.fround(p[i]!);
          if (tv <= 0 || (useMask && mask[i] === 0)) continue;
          n++;
          sq += (pv - tv) ** 2;
          rel += Math.abs(pv - tv) / tv;
          lg += (Math.log(pv) - Math.log(tv)) ** 2;
        }
        return { rmse: Math.sqrt(sq / n), absRel: rel / n, logRmse: Math.sqrt(lg / n) };
      };
      const parts = new w.DepthMetric();
      for (let b = 0; b < N; b++) await parts.update(f32(items(p, hw, b, b + 1), [1, 3, 4]), f32(items(t, hw, b, b + 1), [1, 3, 4]));
      expectClose(parts.compute(), ref(false));
      const masked = new w.DepthMetric();
      await masked.update(f32(p, [N, 1, 3, 4]), f32(t, [N, 1, 3, 4]), i32(mask, [N, 3, 4]));
      expectClose(masked.compute(), ref(true));
    });

    it('rejects bad input', async () => {
      const m = new w.DepthMetric();
      await expect(m.update(f32([1, 2], [1, 1, 2]), f32([1, 2, 3], [1, 1, 3]))).rejects.toThrow(/DepthMetric.*prediction and target/);
      await expect(m.update(i32([1, 2], [1, 1, 2]), f32([1, 2], [1, 1, 2]))).rejects.toThrow(w.DTypeError);
      await expect(m.update(f32([1, 2], [1, 2, 1, 1]), f32([1, 2], [1, 2, 1, 1]))).rejects.toThrow(w.ShapeError);
    });
  });

  describe('NormalsMetric', () => {
    it('hand-computed angles: 90, 0, 45 degrees and an invalid pixel', async () => {
      const m = new w.NormalsMetric();
      // channel-major [1,3,1,4]: pixels (1,0,0)/(0,1,0), (2,0,0)/(1,0,0), (1,1,0)/(1,0,0), (1,0,0)/(0,0,0)
      const pred = f32([1, 2, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0], [1, 3, 1, 4]);
      const tgt = f32([0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0], [1, 3, 1, 4]);
      await m.update(pred, tgt);
      const res = m.compute();
      expectClose({ ...res, median: 0 }, { mean: 45, median: 0, within11_25: 1 / 3, within22_5: 1 / 3, within30: 1 / 3 });
      expect(Math.abs(res.median - 45)).toBeLessThanOrEqual(w.NORMALS_HISTOGRAM_BIN / 2 + 1e-12);
    });

    it('matches a reference over several updates, with a mask', async () => {
      const N = 2, hw = 20, r = rng(3);
      const p = Array.from({ length: N * 3 * hw }, () => r() * 2 - 1);
      const t = Array.from({ length: N * 3 * hw }, (_, i) => (i % hw === 3 ? 0 : r() * 2 - 1));
      const mask = Array.from({ length: N * hw }, () => (r() < 0.25 ? 0 : 1));
      const errs: number[] = [];
      for (let n = 0; n < N; n++)
        for (let i = 0; i < hw; i++) {
          const pv = [0, 1, 2].map((c) => Math.fround(p[(n * 3 + c) * hw + i]!));
          const tv = [0, 1, 2].map((c) => Math.fround(t[(n * 3 + c) * hw + i]!));
          const pn = Math.hypot(...pv), tn = Math.hypot(...tv);
          if (tn === 0 || mask[n * hw + i] === 0) continue;
          const cos = (pv[0]! * tv[0]! + pv[1]! * tv[1]! + pv[2]! * tv[2]!) / (pn * tn);
          errs.push((Math.acos(Math.min(1, Math.max(-1, cos))) * 180) / Math.PI);
        }
      errs.sort((a, b) => a - b);
      const k = errs.length;
      const median = (errs[Math.floor((k - 1) / 2)]! + errs[Math.ceil((k - 1) / 2)]!) / 2;
      const frac = (th: number): number => errs.filter((e) => e < th).length / k;
      const m = new w.NormalsMetric();
      for (let b = 0; b < N; b++) {
        await m.update(f32(items(p, 3 * hw, b, b + 1), [1, 3, 4, 5]), f32(items(t, 3 * hw, b, b + 1), [1, 3, 4, 5]), f32(items(mask, hw, b, b + 1), [1, 4, 5]));
      }
      const res = m.compute();
      expect(res.mean).toBeCloseTo(errs.reduce((s, e) => s + e, 0) / k, 6);
      expect(Math.abs(res.median - median)).toBeLessThanOrEqual(w.NORMALS_HISTOGRAM_BIN);
      expectClose({ a: res.within11_25, b: res.within22_5, c: res.within30 }, { a: frac(11.25), b: frac(22.5), c: frac(30) });
    });

    it('rejects bad input', async () => {
      const m = new w.NormalsMetric();
      await expect(m.update(f32([1, 0], [1, 2, 1, 1]), f32([1, 0], [1, 2, 1, 1]))).rejects.toThrow(/NormalsMetric.*\[N,3,H,W\]/);
      await expect(m.update(f32([1, 0, 0], [1, 3, 1, 1]), i32([1, 0, 0], [1, 3, 1, 1]))).rejects.toThrow(w.DTypeError);
    });
  });

  describe('EdgeMetric', () => {
    const S = 16;
    const line = (x0: number, v = 1): number[] => Array.from({ length: S * S }, (_, i) => (i % S === x0 ? v : 0));
    const odsF = async (pred: number[], gt: number[], maxDist?: number): Promise<number> => {
      const m = new w.EdgeMetric(maxDist === undefined ? {} : { maxDist });
      await m.update(f32(pred, [1, 1, S, S]), f32(gt, [1, 1, S, S]));
      return m.compute().odsF;
    };

    it('exact match gives 1, a 1-pixel shift within tolerance 1, outside tolerance or far away 0', async () => {
      expect(await odsF(line(8, 0.9), line(8))).toBe(1);
      // radius 0.05 * hypot(16, 16) = 1.13 pixels
      expect(await odsF(line(9, 0.9), line(8), 0.05)).toBe(1);
      // default radius 0.0075 * 22.6 = 0.17 pixels
      expect(await odsF(line(9, 0.9), line(8))).toBe(0);
      expect(await odsF(line(2, 0.9), line(12), 0.05)).toBe(0);
    });

    it('takes the best threshold (hand-computed)', async () => {
      const pred = line(8, 0.8).map((v, i) => (v && i >= (S * S) / 2 ? 0.3 : v));
      pred[3] = 0.6; // a false positive far from the line
      // t <= 0.3: P = 16/17, R = 1; t in (0.3, 0.6]: P = 8/9, R = 1/2; t in (0.6, 0.8]: P = 1, R = 1/2
      expect(await odsF(pred, line(8))).toBeCloseTo(32 / 33, 12);
    });

    it('matches a brute-force reference; several updates equal one; masks', async () => {
      const N = 2, H = 6, Wd = 7, hw = H * Wd, maxDist = 0.15, r = rng(4);
      const p = Array.from({ length: N * hw }, () => Math.round(r() * 1000) / 1000 + 0.0003);
      const g = Array.from({ length: N * hw }, () => (r() < 0.2 ? 1 : 0));
      const mask = Array.from({ length: N * hw }, () => (r() < 0.2 ? 0 : 1));
      const ref = (useMask: boolean): number => {
        const rad = maxDist * Math.hypot(H, Wd);
        const ok = (i: number): boolean => !useMask || mask[i] === 1;
        let best = 0;
        for (let k = 1; k <= 99; k++) {
          const th = k / 100;
          let pc = 0, pm = 0, gc = 0, gm = 0;
          for (let n = 0; n < N; n++)
            for (let i = 0; i < hw; i++) {
              if (!ok(n * hw + i)) continue;
              const near = (want: (j: number) => boolean): boolean => {
                for (let j = 0; j < hw; j++) {
                  const d = Math.hypot(Math.floor(i / Wd) - Math.floor(j / Wd), (i % Wd) - (j % Wd));
                  if (d <= rad && ok(n * hw + j) && want(n * hw + j)) return true;
                }
                return false;
              };
              if (Math.fround(p[n * hw + i]!) >= th) {
                pc++;
                if (near((j) => g[j] === 1)) pm++;
              }
              if (g[n * hw + i] === 1) {
                gc++;
                if (near((j) => Math.fround(p[j]!) >= th)) gm++;
              }
            }
          const P = pc ? pm / pc : 0, R = gm / gc;
          if (P + R > 0) best = Math.max(best, (2 * P * R) / (P + R));
        }
        return best;
      };
      const parts = new w.EdgeMetric({ maxDist });
      for (let b = 0; b < N; b++) await parts.update(f32(items(p, hw, b, b + 1), [1, H, Wd]), i32(items(g, hw, b, b + 1), [1, H, Wd]));
      expect(parts.compute().odsF).toBeCloseTo(ref(false), 12);
      const masked = new w.EdgeMetric({ maxDist });
      await masked.update(f32(p, [N, 1, H, Wd]), i32(g, [N, 1, H, Wd]), i32(mask, [N, H, Wd]));
      expect(masked.compute().odsF).toBeCloseTo(ref(true), 12);
    });

    it('rejects bad input', async () => {
      const m = new w.EdgeMetric();
      await expect(m.update(f32([0, 1], [1, 1, 2]), f32([0, 1, 0], [1, 1, 3]))).rejects.toThrow(/EdgeMetric/);
      await expect(m.update(i32([0, 1], [1, 1, 2]), f32([0, 1], [1, 1, 2]))).rejects.toThrow(w.DTypeError);
    });
  });

  describe('SaliencyMetric', () => {
    it('hand-computed maxF (beta^2 = 0.3) and IoU at 0.5', async () => {
      const m = new w.SaliencyMetric();
      await m.update(f32([0.9, 0.4, 0.6, 0.1], [1, 1, 2, 2]), i32([1, 1, 0, 0], [1, 1, 2, 2]));
      // best at t in [0.6, 0.9): P = 1, R = 1/2, F = 1.3 * 0.5 / (0.3 + 0.5)
      expectClose(m.compute(), { maxF: 0.8125, mIoU: 1 / 3 });
      expect(m.higherIsBetter).toEqual({ maxF: true, mIoU: true });
    });

    it('matches a reference from dataset-wide counts; several updates equal one; masks', async () => {
      const N = 3, hw = 10, r = rng(5);
      const p = Array.from({ length: N * hw }, () => Math.round(r() * 1000) / 1000 + 0.0003);
      const g = Array.from({ length: N * hw }, () => (r() < 0.4 ? 1 : 0));
      const mask = Array.from({ length: N * hw }, () => (r() < 0.2 ? 0 : 1));
      const ref = (useMask: boolean): Record<string, number> => {
        let best = 0, tp5 = 0, un5 = 0;
        for (let k = 0; k <= 100; k++) {
          let tp = 0, pos = 0, fg = 0;
          for (let i = 0; i < N * hw; i++) {
            if (useMask && mask[i] === 0) continue;
            const on = Math.fround(p[i]!) > k / 100;
            if (on) pos++;
            if (g[i] === 1) fg++;
            if (on && g[i] === 1) tp++;
            if (k === 50) {
              if (on && g[i] === 1) tp5++;
              if (on || g[i] === 1) un5++;
            }
          }
          const P = pos ? tp / pos : 0, R = tp / fg;
          if (P + R > 0) best = Math.max(best, (1.3 * P * R) / (0.3 * P + R));
        }
        return { maxF: best, mIoU: tp5 / un5 };
      };
      const parts = new w.SaliencyMetric();
      for (let b = 0; b < N; b++) await parts.update(f32(items(p, hw, b, b + 1), [1, 2, 5]), f32(items(g, hw, b, b + 1), [1, 1, 2, 5]));
      expectClose(parts.compute(), ref(false));
      const masked = new w.SaliencyMetric();
      await masked.update(f32(p, [N, 2, 5]), f32(g, [N, 2, 5]), f32(mask, [N, 2, 5]));
      expectClose(masked.compute(), ref(true));
    });

    it('rejects bad input', async () => {
      const m = new w.SaliencyMetric();
      await expect(m.update(f32([0, 1], [1, 1, 2]), f32([0, 1], [1, 2, 1]))).rejects.toThrow(/SaliencyMetric/);
      await expect(m.update(i32([0, 1], [1, 1, 2]), f32([0, 1], [1, 1, 2]))).rejects.toThrow(w.DTypeError);
    });
  });

  describe('deltaMTL', () => {
    const base = { seg: { mIoU: 0.4 }, depth: { rmse: 0.6 } };
    const dirs = { seg: { mIoU: true }, depth: { rmse: false } };

    it('counts improvements as positive whichever the direction', () => {
      // seg +10%, depth rmse 0.6 -> 0.5 is an improvement of 16.67%
      expect(w.deltaMTL({ seg: { mIoU: 0.44 }, depth: { rmse: 0.5 } }, base, dirs)).toBeCloseTo((10 + 100 / 6) / 2, 10);
      // seg -10%, depth rmse 0.6 -> 0.66 is 10% worse
      expect(w.deltaMTL({ seg: { mIoU: 0.36 }, depth: { rmse: 0.66 } }, base, dirs)).toBeCloseTo(-10, 10);
      expect(w.deltaMTL(base, base, dirs)).toBe(0);
    });

    it('averages per task first by default, or over all metric terms', () => {
      const res = { seg: { mIoU: 0.44 }, normals: { mean: 20, within30: 0.735 } };
      const bl = { seg: { mIoU: 0.4 }, normals: { mean: 25, within30: 0.7 } };
      const d = { seg: { mIoU: true }, normals: { mean: false, within30: true } };
      // terms: seg +10; normals +20 and +5
      expect(w.deltaMTL(res, bl, d)).toBeCloseTo((10 + 12.5) / 2, 10);
      expect(w.deltaMTL(res, bl, d, { average: 'metric' })).toBeCloseTo(35 / 3, 10);
      // entries not named in directions are ignored
      expect(w.deltaMTL({ ...res, extra: { x: 1 } }, bl, { seg: { mIoU: true } })).toBeCloseTo(10, 10);
    });

    it('uses a metric object\'s higherIsBetter as directions', () => {
      const seg = new w.SegmentationMetric(2);
      const depth = new w.DepthMetric();
      const v = w.deltaMTL(
        { seg: { mIoU: 0.5 }, depth: { rmse: 0.5 } },
        { seg: { mIoU: 0.5 }, depth: { rmse: 1 } },
        { seg: { mIoU: seg.higherIsBetter.mIoU }, depth: { rmse: depth.higherIsBetter.rmse } },
      );
      expect(v).toBeCloseTo(25, 10);
    });

    it('rejects missing values, zero baselines and empty directions', () => {
      expect(() => w.deltaMTL({ seg: {} }, base, dirs)).toThrow(w.ArgumentError);
      expect(() => w.deltaMTL(base, { seg: { mIoU: 0 }, depth: { rmse: 0.6 } }, dirs)).toThrow(/non-zero baseline/);
      expect(() => w.deltaMTL(base, base, {})).toThrow(w.ArgumentError);
    });
  });
});
