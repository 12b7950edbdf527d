/**
 * Random indoor-like scenes: a room (floor, walls, ceiling), a few boxes, spheres and cylinders
 * resting on its floor, a point light under the ceiling, and a camera standing in the near part of
 * the room looking into it, tilted down a little, like a hand-held Kinect in NYUv2. Everything a
 * scene holds is drawn from one {@link Rng}, so a scene is a pure function of its seed.
 */
import { cameraPose, type CameraPose } from './camera.js';
import { footprintRadius, type Room, type Shape, type Vec3 } from './geometry.js';
import type { Rng } from './rng.js';
import { randomMaterial, type ColourPrior, type Material, type Texture } from './textures.js';

/**
 * Semantic classes of the synthetic scenes, index = label: 0 floor, 1 wall, 2 ceiling (the room
 * surfaces), 3 box, 4 sphere, 5 cylinder (the objects).
 */
export const SYNTHETIC_CLASSES = ['floor', 'wall', 'ceiling', 'box', 'sphere', 'cylinder'] as const;

/** Label of each class in {@link SYNTHETIC_CLASSES}. */
export const SyntheticClass = { Floor: 0, Wall: 1, Ceiling: 2, Box: 3, Sphere: 4, Cylinder: 5 } as const;
/** A label of the synthetic scenes (an index into {@link SYNTHETIC_CLASSES}). */
export type SyntheticClass = (typeof SyntheticClass)[keyof typeof SyntheticClass];

/**
 * Instance (region) ids used for edges: the floor, all walls together and the ceiling are 0, 1
 * and 2 (equal to their class), object k of {@link Scene.objects} is FIRST_OBJECT_ID + k.
 */
export const FIRST_OBJECT_ID = 3;

/** One object: its geometry, its class and its look. */
export interface SceneObject {
  readonly shape: Shape;
  readonly cls: SyntheticClass;
  readonly material: Material;
}

/** The point light: position (world, metres), strength and the ambient term added everywhere. */
export interface Light {
  readonly position: Vec3;
  readonly power: number;
  readonly ambient: number;
}

/** A whole scene, everything the renderer needs. World frame: metres, y up, floor at y = 0. */
export interface Scene {
  readonly room: Room;
  readonly floor: Material;
  readonly wall: Material;
  readonly ceiling: Material;
  readonly camera: CameraPose;
  readonly light: Light;
  readonly objects: readonly SceneObject[];
}

const deg = Math.PI / 180;
const ALL_KINDS: readonly Texture['kind'][] = ['plain', 'checker', 'stripes', 'noise'];

const OBJECT_PRIORS: Record<'box' | 'sphere' | 'cylinder', ColourPrior> = {
  box: { hue: 15, hueStd: 35, sat: [0.35, 0.85], val: [0.35, 0.9], wild: 0.15 },
  sphere: { hue: 120, hueStd: 35, sat: [0.35, 0.85], val: [0.35, 0.9], wild: 0.15 },
  cylinder: { hue: 225, hueStd: 35, sat: [0.35, 0.85], val: [0.35, 0.9], wild: 0.15 },
};
const FLOOR_PRIOR: ColourPrior = { hue: 30, hueStd: 12, sat: [0.25, 0.65], val: [0.3, 0.65], wild: 0.25 };
const WALL_PRIOR: ColourPrior = { hue: 40, hueStd: 60, sat: [0.03, 0.25], val: [0.55, 0.9], wild: 0.3 };
const CEILING_PRIOR: ColourPrior = { hue: 40, hueStd: 30, sat: [0, 0.06], val: [0.8, 0.95], wild: 0 };

/** A random object shape of the given kind at (cx, cz); sizes in metres. */
function randomShape(rng: Rng, kind: Shape['kind'], cx: number, cz: number): Shape {
  switch (kind) {
    case 'box':
      return {
        kind,
        cx,
        cz,
        hx: rng.range(0.15, 0.55),
        hz: rng.range(0.15, 0.55),
        // Mostly low furniture, sometimes a cabinet; the top stays below the light (>= 1.8 m).
        hy: rng.chance(0.7) ? rng.range(0.12, 0.5) : rng.range(0.5, 0.85),
        yaw: rng.range(0, Math.PI / 2),
      };
    case 'sphere':
      return { kind, cx, cz, r: rng.range(0.12, 0.45) };
    case 'cylinder':
      return { kind, cx, cz, r: rng.range(0.08, 0.35), h: rng.range(0.25, 1.5) };
  }
}

/** The same shape moved to (cx, cz). */
function moved(sh: Shape, cx: number, cz: number): Shape {
  return { ...sh, cx, cz };
}

/**
 * Places up to `count` objects on the floor by rejection: each keeps inside the room, clear of
 * the others and of the camera, and in front of the camera within +-40 degrees of its heading
 * (NYU's half field of view is ~32 degrees, so some objects are cut by the image border).
 * An object that finds no place in 40 tries is dropped.
 */
function placeObjects(rng: Rng, room: Room, camera: CameraPose, count: number): SceneObject[] {
  const objects: SceneObject[] = [];
  const [camX, , camZ] = camera.position;
  const fx = camera.forward[0];
  const fz = camera.forward[2];
  const fn = Math.hypot(fx, fz);
  const maxAngle = 40 * deg;
  for (let k = 0; k < count; k++) {
    const kind = rng.pick(['box', 'sphere', 'cylinder'] as const);
    const proto = randomShape(rng, kind, 0, 0);
    const rad = footprintRadius(proto);
    for (let attempt = 0; attempt < 40; attempt++) {
      const x = rng.range(room.x0 + rad + 0.02, room.x1 - rad - 0.02);
      const z = rng.range(room.z0 + rad + 0.02, room.z1 - rad - 0.02);
      const vx = x - camX;
      const vz = z - camZ;
      const dist = Math.hypot(vx, vz);
      if (dist < rad + 0.6) continue;
      if (Math.acos(Math.max(-1, Math.min(1, (vx * fx + vz * fz) / (dist * fn)))) > maxAngle) continue;
      const clear = objects.every((o) => Math.hypot(o.shape.cx - x, o.shape.cz - z) > rad + footprintRadius(o.shape) + 0.05);
      if (!clear) continue;
      const cls = kind === 'box' ? SyntheticClass.Box : kind === 'sphere' ? SyntheticClass.Sphere : SyntheticClass.Cylinder;
      const material = randomMaterial(rng, OBJECT_PRIORS[kind], ALL_KINDS, [0.04, 0.25], [0.2, 0.6]);
      objects.push({ shape: moved(proto, x, z), cls, material });
      break;
    }
  }
  return objects;
}

/**
 * Draws a scene: a room 3-6.5 m wide, 3.5-7.5 m deep and 2.4-3.2 m high; a camera 1.0-1.7 m above
 * the floor in the near fifth of the room, aimed at a point on the far wall, pitched 26 degrees
 * down to 4 degrees up (so the ceiling shows in some frames) with a little roll; a light 0.2-0.6 m under the ceiling; 2-7 objects (fewer when some find
 * no place). Materials: floors tiled, planked or carpet-like in brownish hues, pale walls with
 * optional wallpaper stripes or mottling, near-white ceilings, objects in class-tinted colours.
 */
export function sampleScene(rng: Rng): Scene {
  const width = rng.range(3, 6.5);
  const depth = rng.range(3.5, 7.5);
  const room: Room = { x0: -width / 2, x1: width / 2, z0: 0, z1: depth, height: rng.range(2.4, 3.2) };
  const floor = randomMaterial(rng, FLOOR_PRIOR, ['checker', 'stripes', 'noise'], [0.1, 0.6], [0.1, 0.4]);
  const wall = randomMaterial(rng, WALL_PRIOR, ['plain', 'plain', 'stripes', 'noise'], [0.1, 0.5], [0.05, 0.2]);
  const ceiling = randomMaterial(rng, CEILING_PRIOR, ['plain', 'noise'], [0.2, 0.6], [0.03, 0.1]);

  const pos: Vec3 = [rng.range(room.x0 + 0.5, room.x1 - 0.5), rng.range(1.0, 1.7), rng.range(0.3, 0.3 + 0.2 * depth)];
  const tx = rng.range(room.x0 + 0.2 * width, room.x1 - 0.2 * width);
  const yaw = Math.atan2(tx - pos[0], room.z1 - pos[2]) + rng.normal(0, 3 * deg);
  const pitch = -rng.range(-4, 26) * deg;
  const roll = Math.max(-5, Math.min(5, rng.normal(0, 2))) * deg;
  const camera = cameraPose(pos, yaw, pitch, roll);

  const light: Light = {
    position: [rng.range(room.x0 + 0.5, room.x1 - 0.5), room.height - rng.range(0.2, 0.6), rng.range(room.z0 + 0.3 * depth, room.z1 - 0.5)],
    power: rng.range(0.9, 1.4),
    ambient: rng.range(0.12, 0.28),
  };
  const objects = placeObjects(rng, room, camera, rng.int(2, 7));
  return { room, floor, wall, ceiling, camera, light, objects };
}
