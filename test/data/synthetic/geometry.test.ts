// Geometric consistency of the synthetic scenes: depth, normals, edges and saliency are checked
// against quantities computed here, independently of the renderer (ray/plane and ray/sphere
// intersections written out in the test, the camera basis taken from the scene description).
import { describe, expect, it } from 'vitest';
import {
  cameraPose,
  NYU_INTRINSICS,
  scaledIntrinsics,
  semanticEdges,
  SyntheticClass,
  SyntheticScenes,
  worldToCamera,
  FIRST_OBJECT_ID,
  type CameraPose,
  type Vec3,
} from '../../../src/data/synthetic/index.js';

const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

/** World direction of the ray through pixel centre (r, c), scaled so its camera-frame z is 1. */
function pixelRay(pose: CameraPose, h: number, w: number, r: number, c: number): Vec3 {
  const K = scaledIntrinsics(h, w);
  const x = (c - K.cx) / K.fx;
  const y = (r - K.cy) / K.fy;
  return [0, 1, 2].map((k) => x * pose.right[k]! + y * pose.down[k]! + pose.forward[k]!) as unknown as Vec3;
}

const cases = [
  { size: [48, 64] as [number, number], seed: 2 },
  { size: [64, 40] as [number, number], seed: 5 },
  { size: [32, 32] as [number, number], seed: 8 },
];

describe('camera conventions', () => {
  it('scales NYU intrinsics with the image', () => {
    expect(scaledIntrinsics(480, 640)).toMatchObject({ fx: NYU_INTRINSICS.fx, fy: NYU_INTRINSICS.fy });
    expect(scaledIntrinsics(480, 640).cx).toBeCloseTo(NYU_INTRINSICS.cx, 10);
    const half = scaledIntrinsics(240, 320);
    expect(half.fx).toBeCloseTo(NYU_INTRINSICS.fx / 2, 10);
    expect(half.cx).toBeCloseTo((NYU_INTRINSICS.cx + 0.5) / 2 - 0.5, 10);
    const ns = scaledIntrinsics(64, 32);
    expect(ns.fx).toBeCloseTo(NYU_INTRINSICS.fx / 20, 10);
    expect(ns.fy).toBeCloseTo(NYU_INTRINSICS.fy / 7.5, 10);
  });

  it('builds x right, y down, z forward camera bases', () => {
    const level = cameraPose([0, 1, 0], 0, 0, 0);
    expect(level.forward[2]).toBeCloseTo(1);
    expect(level.down[1]).toBeCloseTo(-1); // image y runs down the world
    expect(level.right[0]).toBeCloseTo(-1); // looking along +z with y up, right is -x
    const p = cameraPose([0, 1, 0], 0.7, -0.4, 0.05);
    for (const [a, b] of [
      [p.right, p.down],
      [p.down, p.forward],
      [p.right, p.forward],
    ] as const) expect(dot(a, b)).toBeCloseTo(0, 12);
    for (const v of [p.right, p.down, p.forward]) expect(dot(v, v)).toBeCloseTo(1, 12);
    expect(cross(p.right, p.down).map((x, k) => x - p.forward[k]!).every((d) => Math.abs(d) < 1e-12)).toBe(true);
    // Looking down: the world's up vector points up the image (negative camera y) and back towards
    // the camera (negative z), so floor normals face the camera.
    const up = worldToCamera(p, [0, 1, 0]);
    expect(up[1]).toBeLessThan(0);
    expect(up[2]).toBeLessThan(0);
    expect(up[1]).toBeCloseTo(-Math.cos(0.4) * Math.cos(0.05), 12);
  });
});

describe.each(cases)('scene geometry at $size, seed $seed', ({ size, seed }) => {
  const [h, w] = size;
  const ds = new SyntheticScenes({ size, length: 6, seed });
  const indices = [0, 1, 2, 3, 4, 5];

  it('has floor depths equal to the ray/floor-plane intersection and floor normals = rotated world up', () => {
    let floorPixels = 0;
    let worstDepth = 0; // relative error
    let worstNormal = 0;
    for (const i of indices) {
      const scene = ds.scene(i);
      const s = ds.getSync(i);
      const cam = scene.camera;
      const upCam = [cam.right[1], cam.down[1], cam.forward[1]];
      for (let r = 0; r < h; r++) {
        for (let c = 0; c < w; c++) {
          const p = r * w + c;
          const cls = s.semseg![p];
          if (cls !== SyntheticClass.Floor && cls !== SyntheticClass.Ceiling) continue;
          const d = pixelRay(cam, h, w, r, c);
          const planeY = cls === SyntheticClass.Floor ? 0 : scene.room.height;
          const t = (planeY - cam.position[1]) / d[1];
          expect(t).toBeGreaterThan(0);
          worstDepth = Math.max(worstDepth, Math.abs(s.depth![p]! - t) / t);
          const sign = cls === SyntheticClass.Floor ? 1 : -1;
          for (let k = 0; k < 3; k++) worstNormal = Math.max(worstNormal, Math.abs(s.normals![k * h * w + p]! - sign * upCam[k]!));
          if (cls === SyntheticClass.Floor) floorPixels++;
        }
      }
    }
    expect(worstDepth).toBeLessThan(1e-6);
    expect(worstNormal).toBeLessThan(1e-6);
    expect(floorPixels).toBeGreaterThan(h * w * 0.1 * indices.length);
  });

  it('has sphere depths and normals equal to the ray/sphere intersection', () => {
    let spherePixels = 0;
    for (const i of indices) {
      const scene = ds.scene(i);
      const s = ds.getSync(i);
      const inst = ds.render(i).instance;
      const cam = scene.camera;
      const o = cam.position;
      for (let p = 0; p < h * w; p++) {
        const obj = scene.objects[inst[p]! - FIRST_OBJECT_ID];
        if (!obj || obj.shape.kind !== 'sphere') continue;
        expect(s.semseg![p]).toBe(SyntheticClass.Sphere);
        const { cx, cz, r: rad } = obj.shape;
        const d = pixelRay(cam, h, w, Math.floor(p / w), p % w);
        const oc: Vec3 = [o[0] - cx, o[1] - rad, o[2] - cz];
        const a = dot(d, d);
        const b = dot(oc, d);
        const disc = b * b - a * (dot(oc, oc) - rad * rad);
        expect(disc).toBeGreaterThanOrEqual(0);
        const t = (-b - Math.sqrt(disc)) / a;
        expect(Math.abs(s.depth![p]! - t)).toBeLessThan(1e-5 * t);
        const nWorld: Vec3 = [(oc[0] + t * d[0]) / rad, (oc[1] + t * d[1]) / rad, (oc[2] + t * d[2]) / rad];
        const nCam = worldToCamera(cam, nWorld);
        for (let k = 0; k < 3; k++) expect(s.normals![k * h * w + p]).toBeCloseTo(nCam[k]!, 4);
        spherePixels++;
      }
    }
    // Not every scene has a visible sphere; the set of cases as a whole must.
    if (seed === 2) expect(spherePixels).toBeGreaterThan(0);
  });

  it('has positive depths bounded by the room, unit normals facing the camera, classes in range', () => {
    const K = scaledIntrinsics(h, w);
    for (const i of indices) {
      const { room, camera } = ds.scene(i);
      const s = ds.getSync(i);
      const o = camera.position;
      let farthest = 0;
      for (const x of [room.x0, room.x1]) for (const y of [0, room.height]) for (const z of [room.z0, room.z1]) {
        farthest = Math.max(farthest, Math.hypot(x - o[0], y - o[1], z - o[2]));
      }
      const n = h * w;
      let minDepth = Infinity;
      let maxDepth = 0;
      let worstNorm = 0;
      let maxFacing = -Infinity; // n . ray, must stay negative
      const classes = new Set<number>();
      for (let p = 0; p < n; p++) {
        minDepth = Math.min(minDepth, s.depth![p]!);
        maxDepth = Math.max(maxDepth, s.depth![p]!);
        const nx = s.normals![p]!;
        const ny = s.normals![n + p]!;
        const nz = s.normals![2 * n + p]!;
        worstNorm = Math.max(worstNorm, Math.abs(Math.hypot(nx, ny, nz) - 1));
        const rx = ((p % w) - K.cx) / K.fx;
        const ry = (Math.floor(p / w) - K.cy) / K.fy;
        maxFacing = Math.max(maxFacing, nx * rx + ny * ry + nz);
        classes.add(s.semseg![p]!);
      }
      expect(minDepth).toBeGreaterThan(0.05);
      expect(maxDepth).toBeLessThanOrEqual(farthest);
      expect(worstNorm).toBeLessThan(1e-6);
      expect(maxFacing).toBeLessThan(0);
      for (const c of classes) expect(c >= 0 && c < 6).toBe(true);
    }
  });

  it('marks edges exactly on region boundaries, on the nearer side', () => {
    for (const i of indices) {
      const s = ds.getSync(i);
      const { instance, depth } = ds.render(i);
      expect(Buffer.from(s.edge!.buffer).equals(Buffer.from(semanticEdges(instance, depth, h, w).buffer))).toBe(true);
      const hasOtherNeighbour = new Uint8Array(h * w);
      for (let r = 0; r < h; r++) {
        for (let c = 0; c < w; c++) {
          const p = r * w + c;
          for (const q of [c + 1 < w ? p + 1 : -1, r + 1 < h ? p + w : -1]) {
            if (q < 0 || instance[p] === instance[q]) continue;
            hasOtherNeighbour[p] = hasOtherNeighbour[q] = 1;
            const nearer = depth[p]! < depth[q]! ? p : depth[q]! < depth[p]! ? q : instance[p]! > instance[q]! ? p : q;
            expect(s.edge![nearer]).toBe(1);
          }
          // A class change is always a region change, so it always has an edge beside it.
          if (c + 1 < w && s.semseg![p] !== s.semseg![p + 1]) expect(s.edge![p]! + s.edge![p + 1]!).toBeGreaterThan(0);
        }
      }
      for (let p = 0; p < h * w; p++) {
        expect(s.edge![p] === 0 || s.edge![p] === 1).toBe(true);
        if (s.edge![p] === 1) expect(hasOtherNeighbour[p]).toBe(1);
      }
    }
  });

  it('has saliency 1 exactly on object pixels', () => {
    for (const i of indices) {
      const s = ds.getSync(i);
      for (let p = 0; p < h * w; p++) expect(s.sal![p]).toBe(s.semseg![p]! >= SyntheticClass.Box ? 1 : 0);
    }
  });
});
