/**
 * The ray caster: one primary ray through each pixel centre, one shadow ray towards the light.
 * It returns the image and every per-pixel label the scene defines (class, instance, z-depth,
 * camera-frame normal). Shading is Lambertian: albedo x (ambient + power x max(0, n.l) x visibility
 * / (1 + d^2 / 9 m^2)), in linear light, encoded for display with a square root (gamma 2, close
 * to sRGB's 2.2 and much cheaper than a power) and clipped to [0, 1].
 * No anti-aliasing: the image and the labels come from the same single ray, so they agree exactly.
 */
import { scaledIntrinsics } from './camera.js';
import { Hit, intersectRoom, intersectShape, prepareShape, RoomFace } from './geometry.js';
import { FIRST_OBJECT_ID, SyntheticClass, type Scene } from './scene.js';
import { textureMix, type Material } from './textures.js';

/** Everything the renderer produces for one scene, on the host, row-major. */
export interface RenderOutput {
  readonly height: number;
  readonly width: number;
  /** f32 [3, H, W]: display-encoded (gamma 2) RGB in [0, 1], not normalised. */
  readonly rgb: Float32Array;
  /** i32 [H, W]: class labels ({@link SYNTHETIC_CLASSES}). */
  readonly semseg: Int32Array;
  /** i32 [H, W]: region ids, 0 floor, 1 walls, 2 ceiling, FIRST_OBJECT_ID + k object k. */
  readonly instance: Int32Array;
  /** f32 [H, W]: z-depth in metres (distance along the optical axis), > 0 everywhere. */
  readonly depth: Float32Array;
  /** f32 [3, H, W]: unit normals in the camera frame (x right, y down, z forward), facing the camera. */
  readonly normals: Float32Array;
}

/** Offset of shadow-ray origins along the normal, metres: keeps a surface from shadowing itself. */
const SHADOW_EPS = 1e-4;

// Imported bindings used per ray, as local constants: module loaders that turn imports into
// property reads or getters (tsx, vitest) otherwise pay for a lookup on every call.
const isect = intersectShape;
const textureAt = textureMix;
const FLOOR_FACE = RoomFace.Floor;
const CEILING_FACE = RoomFace.Ceiling;
const FIRST_OBJECT = FIRST_OBJECT_ID;
const FLOOR = SyntheticClass.Floor;
const WALL = SyntheticClass.Wall;
const CEILING = SyntheticClass.Ceiling;

/**
 * Renders `scene` at `height` x `width` with NYU's intrinsics scaled to that size (see
 * camera.ts). Deterministic: the same scene and size give bit-identical arrays. The camera must
 * be inside the room and outside every object (sampleScene guarantees both).
 */
export function renderScene(scene: Scene, height: number, width: number): RenderOutput {
  const n = height * width;
  const rgb = new Float32Array(3 * n);
  const semseg = new Int32Array(n);
  const instance = new Int32Array(n);
  const depth = new Float32Array(n);
  const normals = new Float32Array(3 * n);
  const K = scaledIntrinsics(height, width);
  const { right, down, forward, position } = scene.camera;
  const [ox, oy, oz] = position;
  const { room, objects, light } = scene;
  const shapes = objects.map((o) => prepareShape(o.shape));
  const [lx, ly, lz] = light.position;
  const hit = new Hit();
  const shadow = new Hit();

  for (let r = 0; r < height; r++) {
    const cyr = (r - K.cy) / K.fy;
    for (let c = 0; c < width; c++) {
      const cxr = (c - K.cx) / K.fx;
      // World direction of the camera-frame ray (cxr, cyr, 1): t along it is the z-depth.
      const dx = right[0] * cxr + down[0] * cyr + forward[0];
      const dy = right[1] * cxr + down[1] * cyr + forward[1];
      const dz = right[2] * cxr + down[2] * cyr + forward[2];

      hit.reset();
      intersectRoom(room, ox, oy, oz, dx, dy, dz, hit);
      let id: number = hit.face === FLOOR_FACE ? FLOOR : hit.face === CEILING_FACE ? CEILING : WALL;
      for (let k = 0; k < shapes.length; k++) {
        if (isect(shapes[k]!, ox, oy, oz, dx, dy, dz, 0, hit)) id = FIRST_OBJECT + k;
      }
      const isObject = id >= FIRST_OBJECT;
      const mat: Material = isObject ? objects[id - FIRST_OBJECT]!.material : id === FLOOR ? scene.floor : id === WALL ? scene.wall : scene.ceiling;
      const t = hit.t;
      let nx = hit.nx;
      let ny = hit.ny;
      let nz = hit.nz;
      if (nx * dx + ny * dy + nz * dz > 0) (nx = -nx), (ny = -ny), (nz = -nz);

      const p = r * width + c;
      semseg[p] = isObject ? objects[id - FIRST_OBJECT]!.cls : id;
      instance[p] = id;
      depth[p] = t;
      normals[p] = nx * right[0] + ny * right[1] + nz * right[2];
      normals[n + p] = nx * down[0] + ny * down[1] + nz * down[2];
      normals[2 * n + p] = nx * forward[0] + ny * forward[1] + nz * forward[2];

      // Shading at the hit point.
      const px = ox + t * dx;
      const py = oy + t * dy;
      const pz = oz + t * dz;
      const tlx = lx - px;
      const tly = ly - py;
      const tlz = lz - pz;
      const dist2 = tlx * tlx + tly * tly + tlz * tlz;
      const dist = Math.sqrt(dist2);
      const ndotl = (nx * tlx + ny * tly + nz * tlz) / dist;
      let direct = 0;
      if (ndotl > 0) {
        const sx = px + SHADOW_EPS * nx;
        const sy = py + SHADOW_EPS * ny;
        const sz = pz + SHADOW_EPS * nz;
        let visible = true;
        for (let k = 0; k < shapes.length && visible; k++) {
          shadow.reset(1);
          if (isect(shapes[k]!, sx, sy, sz, tlx, tly, tlz, 0, shadow)) visible = false;
        }
        if (visible) direct = (light.power * ndotl) / (1 + dist2 / 9);
      }
      const shade = light.ambient * (0.8 + 0.2 * ny) + direct;
      const m = textureAt(mat.texture, hit.u, hit.v);
      for (let ch = 0; ch < 3; ch++) {
        const albedo = mat.a[ch]! + (mat.b[ch]! - mat.a[ch]!) * m;
        const lin = albedo * shade;
        rgb[ch * n + p] = lin >= 1 ? 1 : Math.sqrt(lin);
      }
    }
  }
  return { height, width, rgb, semseg, instance, depth, normals };
}
