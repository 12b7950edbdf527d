/**
 * Ray casting against the primitives of the synthetic scenes: the room (an axis-aligned box seen
 * from inside), boxes turned about the vertical axis, spheres and upright cylinders, all resting on
 * the floor. World frame: metres, y up, the floor is the plane y = 0. Rays are `o + t d` with `d`
 * not necessarily unit length (the renderer uses d with camera-frame z = 1, so t is z-depth).
 * Intersections write into one reusable {@link Hit} and never allocate: a 128x128 frame casts
 * tens of thousands of rays.
 */

/** A 3-vector (world or camera coordinates). */
export type Vec3 = readonly [number, number, number];

/** The interior of the room: x in [x0, x1], y in [0, height], z in [z0, z1]. */
export interface Room {
  readonly x0: number;
  readonly x1: number;
  readonly z0: number;
  readonly z1: number;
  readonly height: number;
}

/** A box standing on the floor, centred at (cx, hy, cz), half extents (hx, hy, hz), turned by yaw about +y. */
export interface BoxShape {
  readonly kind: 'box';
  readonly cx: number;
  readonly cz: number;
  readonly hx: number;
  readonly hy: number;
  readonly hz: number;
  /** Radians; local x maps to world (cos yaw, 0, -sin yaw), local z to (sin yaw, 0, cos yaw). */
  readonly yaw: number;
}

/** A sphere resting on the floor: centre (cx, r, cz), radius r. */
export interface SphereShape {
  readonly kind: 'sphere';
  readonly cx: number;
  readonly cz: number;
  readonly r: number;
}

/** An upright cylinder standing on the floor: axis through (cx, ., cz), radius r, height h. */
export interface CylinderShape {
  readonly kind: 'cylinder';
  readonly cx: number;
  readonly cz: number;
  readonly r: number;
  readonly h: number;
}

/** Any object primitive. */
export type Shape = BoxShape | SphereShape | CylinderShape;

/** A box with its yaw's cosine and sine worked out once, as the intersection routine wants it. */
export type PreparedBox = BoxShape & { readonly c: number; readonly s: number };

/** A shape ready for ray casting: boxes carry cos/sin of their yaw (two trig calls fewer per ray). */
export type PreparedShape = PreparedBox | SphereShape | CylinderShape;

/** The shape ready for {@link intersectShape}; done once per scene, not once per ray. */
export function prepareShape(sh: Shape): PreparedShape {
  return sh.kind === 'box' ? { ...sh, c: Math.cos(sh.yaw), s: Math.sin(sh.yaw) } : sh;
}

/**
 * The nearest hit found so far along one ray: parameter t, the unit world normal at the hit
 * (pointing out of the object, or into the room for room surfaces), 2-D texture coordinates (u, v)
 * in metres along the surface, and which surface was hit (`face`, meaning depends on the caller).
 */
export class Hit {
  t = Infinity;
  nx = 0;
  ny = 0;
  nz = 0;
  u = 0;
  v = 0;
  face = -1;

  /** Forgets the previous hit so the next ray starts from scratch. */
  reset(tMax = Infinity): void {
    this.t = tMax;
    this.face = -1;
  }
}

/** Room faces as reported in {@link Hit.face} by {@link intersectRoom}. */
export const RoomFace = { Floor: 0, Ceiling: 1, WallX0: 2, WallX1: 3, WallZ0: 4, WallZ1: 5 } as const;

/**
 * Where a ray from inside the room leaves it. Always hits (when the origin is inside); writes the
 * inward normal, the face ({@link RoomFace}) and texture coordinates: (x, z) on floor and ceiling,
 * (z, y) on the x walls, (x, y) on the z walls. The exit plane is found per axis, so the texture
 * coordinates of a wall never depend on the rounding of its constant coordinate.
 */
export function intersectRoom(room: Room, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, hit: Hit): void {
  let t = Infinity;
  let face = -1;
  if (dy < 0) {
    const ty = -oy / dy;
    if (ty < t) (t = ty), (face = RoomFace.Floor);
  } else if (dy > 0) {
    const ty = (room.height - oy) / dy;
    if (ty < t) (t = ty), (face = RoomFace.Ceiling);
  }
  if (dx < 0) {
    const tx = (room.x0 - ox) / dx;
    if (tx < t) (t = tx), (face = RoomFace.WallX0);
  } else if (dx > 0) {
    const tx = (room.x1 - ox) / dx;
    if (tx < t) (t = tx), (face = RoomFace.WallX1);
  }
  if (dz < 0) {
    const tz = (room.z0 - oz) / dz;
    if (tz < t) (t = tz), (face = RoomFace.WallZ0);
  } else if (dz > 0) {
    const tz = (room.z1 - oz) / dz;
    if (tz < t) (t = tz), (face = RoomFace.WallZ1);
  }
  hit.t = t;
  hit.face = face;
  const px = ox + t * dx;
  const py = oy + t * dy;
  const pz = oz + t * dz;
  hit.nx = face === RoomFace.WallX0 ? 1 : face === RoomFace.WallX1 ? -1 : 0;
  hit.ny = face === RoomFace.Floor ? 1 : face === RoomFace.Ceiling ? -1 : 0;
  hit.nz = face === RoomFace.WallZ0 ? 1 : face === RoomFace.WallZ1 ? -1 : 0;
  if (face <= RoomFace.Ceiling) (hit.u = px), (hit.v = pz);
  else if (face <= RoomFace.WallX1) (hit.u = pz), (hit.v = py);
  else (hit.u = px), (hit.v = py);
}

/** Scratch state of the slab test (module-level so that the hot path allocates nothing). */
const slab = { tNear: -Infinity, tFar: Infinity, axis: -1, sign: 0 };

/** One axis of the slab test: narrows [tNear, tFar]; false when the ray misses the slab interval. */
function slabAxis(o: number, d: number, h: number, k: number): boolean {
  if (Math.abs(d) < 1e-12) return o >= -h && o <= h;
  let t1 = (-h - o) / d;
  let t2 = (h - o) / d;
  let sg = -1;
  if (t1 > t2) {
    const tmp = t1;
    t1 = t2;
    t2 = tmp;
    sg = 1;
  }
  if (t1 > slab.tNear) (slab.tNear = t1), (slab.axis = k), (slab.sign = sg);
  if (t2 < slab.tFar) slab.tFar = t2;
  return slab.tNear <= slab.tFar;
}

/**
 * Ray against a box turned about +y (slab test in the box's own frame). Updates `hit` and returns
 * true when the entry point lies in (tMin, hit.t); rays starting inside the box are ignored, as
 * the camera and shadow-ray origins are never inside an object. Texture coordinates are the two
 * local coordinates spanning the face, offset by the half extents so they start at 0 on an edge.
 */
export function intersectBox(b: PreparedBox, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, tMin: number, hit: Hit): boolean {
  const c = b.c;
  const s = b.s;
  // local = Ry(-yaw) (world - centre)
  const rx = ox - b.cx;
  const ry = oy - b.hy;
  const rz = oz - b.cz;
  const lox = c * rx - s * rz;
  const loz = s * rx + c * rz;
  const ldx = c * dx - s * dz;
  const ldz = s * dx + c * dz;
  slab.tNear = -Infinity;
  slab.tFar = Infinity;
  slab.axis = -1;
  if (!slabAxis(lox, ldx, b.hx, 0) || !slabAxis(ry, dy, b.hy, 1) || !slabAxis(loz, ldz, b.hz, 2)) return false;
  const { tNear, axis, sign } = slab;
  if (axis < 0 || tNear <= tMin || tNear >= hit.t) return false;
  // Local normal along `axis` with sign `sign` (entering through the -h face gives -1).
  const lnx = axis === 0 ? sign : 0;
  const lnz = axis === 2 ? sign : 0;
  hit.t = tNear;
  hit.nx = c * lnx + s * lnz;
  hit.ny = axis === 1 ? sign : 0;
  hit.nz = -s * lnx + c * lnz;
  const px = lox + tNear * ldx + b.hx;
  const py = ry + tNear * dy + b.hy;
  const pz = loz + tNear * ldz + b.hz;
  if (axis === 0) (hit.u = pz), (hit.v = py);
  else if (axis === 1) (hit.u = px), (hit.v = pz);
  else (hit.u = px), (hit.v = py);
  hit.face = axis * 2 + (sign > 0 ? 1 : 0);
  return true;
}

/**
 * Ray against a sphere resting on the floor. Updates `hit` when the near root lies in
 * (tMin, hit.t). Texture coordinates: arc length around the vertical axis and height above the
 * centre, both in metres.
 */
export function intersectSphere(sp: SphereShape, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, tMin: number, hit: Hit): boolean {
  const rx = ox - sp.cx;
  const ry = oy - sp.r;
  const rz = oz - sp.cz;
  const a = dx * dx + dy * dy + dz * dz;
  const hb = rx * dx + ry * dy + rz * dz;
  const c = rx * rx + ry * ry + rz * rz - sp.r * sp.r;
  const disc = hb * hb - a * c;
  if (disc < 0) return false;
  const t = (-hb - Math.sqrt(disc)) / a;
  if (t <= tMin || t >= hit.t) return false;
  const px = rx + t * dx;
  const py = ry + t * dy;
  const pz = rz + t * dz;
  hit.t = t;
  hit.nx = px / sp.r;
  hit.ny = py / sp.r;
  hit.nz = pz / sp.r;
  hit.u = (Math.atan2(pz, px) + Math.PI) * sp.r;
  hit.v = py;
  hit.face = 0;
  return true;
}

/**
 * Ray against an upright cylinder (side, top cap, bottom cap). Updates `hit` when the nearest valid
 * entry lies in (tMin, hit.t). Texture coordinates: arc length and height on the side, local
 * (x, z) on the caps. face: 0 side, 1 top, 2 bottom.
 */
export function intersectCylinder(cy: CylinderShape, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, tMin: number, hit: Hit): boolean {
  const rx = ox - cy.cx;
  const rz = oz - cy.cz;
  const r2 = cy.r * cy.r;
  let found = false;
  const a = dx * dx + dz * dz;
  if (a > 1e-18) {
    const hb = rx * dx + rz * dz;
    const c = rx * rx + rz * rz - r2;
    const disc = hb * hb - a * c;
    if (disc >= 0) {
      const t = (-hb - Math.sqrt(disc)) / a;
      const y = oy + t * dy;
      if (t > tMin && t < hit.t && y >= 0 && y <= cy.h) {
        const px = rx + t * dx;
        const pz = rz + t * dz;
        hit.t = t;
        hit.nx = px / cy.r;
        hit.ny = 0;
        hit.nz = pz / cy.r;
        hit.u = (Math.atan2(pz, px) + Math.PI) * cy.r;
        hit.v = y;
        hit.face = 0;
        found = true;
      }
    }
  }
  if (dy !== 0) {
    // Only the cap the ray enters through can be a first hit: the top from above, the bottom from below.
    const top = dy < 0;
    const t = ((top ? cy.h : 0) - oy) / dy;
    if (t > tMin && t < hit.t) {
      const px = rx + t * dx;
      const pz = rz + t * dz;
      if (px * px + pz * pz <= r2) {
        hit.t = t;
        hit.nx = 0;
        hit.ny = top ? 1 : -1;
        hit.nz = 0;
        hit.u = px;
        hit.v = pz;
        hit.face = top ? 1 : 2;
        found = true;
      }
    }
  }
  return found;
}

/** Dispatches to the intersection routine of the shape's kind; see those for the contract. */
export function intersectShape(sh: PreparedShape, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, tMin: number, hit: Hit): boolean {
  switch (sh.kind) {
    case 'box':
      return intersectBox(sh, ox, oy, oz, dx, dy, dz, tMin, hit);
    case 'sphere':
      return intersectSphere(sh, ox, oy, oz, dx, dy, dz, tMin, hit);
    case 'cylinder':
      return intersectCylinder(sh, ox, oy, oz, dx, dy, dz, tMin, hit);
  }
}

/** Radius of the shape's footprint on the floor (a circle containing it), for placement. */
export function footprintRadius(sh: Shape): number {
  return sh.kind === 'box' ? Math.hypot(sh.hx, sh.hz) : sh.r;
}
