/**
 * Float64 reference convolutions, written as the textbook sums.
 */
import { ND } from './ndarray.js';

export interface RefConvOpts {
  stride?: [number, number];
  /** [left, right, top, bottom] */
  pad?: [number, number, number, number];
  dilation?: [number, number];
  groups?: number;
}

/** conv2d (cross-correlation) of x [n,c,h,w] with w [o,c/g,kh,kw] and optional bias [o]. */
export function conv2d(x: ND, w: ND, bias: ND | null, o: RefConvOpts = {}): ND {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [oc, cg, kh, kw] = w.shape as [number, number, number, number];
  const [sh, sw] = o.stride ?? [1, 1];
  const [pl, pr, pt, pb] = o.pad ?? [0, 0, 0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const g = o.groups ?? 1;
  const oh = Math.floor((h + pt + pb - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((wd + pl + pr - dw * (kw - 1) - 1) / sw) + 1;
  const og = oc / g;
  const out = new Float64Array(n * oc * oh * ow);
  for (let b = 0; b < n; b++)
    for (let co = 0; co < oc; co++) {
      const grp = Math.floor(co / og);
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let s = bias ? bias.data[co]! : 0;
          for (let ci = 0; ci < cg; ci++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const y = i * sh - pt + u * dh;
                const xx = j * sw - pl + v * dw;
                if (y < 0 || y >= h || xx < 0 || xx >= wd) continue;
                s += x.data[((b * c + grp * cg + ci) * h + y) * wd + xx]! * w.data[((co * cg + ci) * kh + u) * kw + v]!;
              }
          out[((b * oc + co) * oh + i) * ow + j] = s;
        }
    }
  return new ND([n, oc, oh, ow], out);
}

/** conv_transpose2d of x [n,cin,h,w] with w [cin, cout/g, kh, kw]: scatter of every input pixel. */
export function convTranspose2d(
  x: ND,
  w: ND,
  bias: ND | null,
  o: { stride?: [number, number]; padding?: [number, number]; outputPadding?: [number, number]; dilation?: [number, number]; groups?: number } = {},
): ND {
  const [n, cin, h, wd] = x.shape as [number, number, number, number];
  const [, coutg, kh, kw] = w.shape as [number, number, number, number];
  const [sh, sw] = o.stride ?? [1, 1];
  const [ph, pw] = o.padding ?? [0, 0];
  const [oph, opw] = o.outputPadding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const g = o.groups ?? 1;
  const cout = coutg * g;
  const cing = cin / g;
  const oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1;
  const ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
  const out = new Float64Array(n * cout * oh * ow);
  for (let b = 0; b < n; b++)
    for (let ci = 0; ci < cin; ci++) {
      const grp = Math.floor(ci / cing);
      for (let i = 0; i < h; i++)
        for (let j = 0; j < wd; j++) {
          const xv = x.data[((b * cin + ci) * h + i) * wd + j]!;
          for (let co = 0; co < coutg; co++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const y = i * sh - ph + u * dh;
                const xx = j * sw - pw + v * dw;
                if (y < 0 || y >= oh || xx < 0 || xx >= ow) continue;
                out[((b * cout + grp * coutg + co) * oh + y) * ow + xx] += xv * w.data[((ci * coutg + co) * kh + u) * kw + v]!;
              }
        }
    }
  if (bias) for (let i = 0; i < out.length; i++) out[i] += bias.data[Math.floor(i / (oh * ow)) % cout]!;
  return new ND([n, cout, oh, ow], out);
}
