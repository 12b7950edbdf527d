/**
 * The pinhole camera of the synthetic scenes: NYUv2's Kinect intrinsics scaled to the requested
 * image size, and a pose (position plus the world directions of the camera axes). Camera frame as
 * OpenCV and NYU: x right, y down, z forward (the optical axis); pixel (col, row) has its centre at
 * integer coordinates, so the ray through pixel centre (c, r) has camera-frame direction
 * ((c - cx) / fx, (r - cy) / fy, 1), and the ray parameter along that direction is the z-depth.
 */
import type { Vec3 } from './geometry.js';

/** Pinhole intrinsics in pixels for an image of `width` x `height`. */
export interface Intrinsics {
  readonly fx: number;
  readonly fy: number;
  readonly cx: number;
  readonly cy: number;
  readonly width: number;
  readonly height: number;
}

/** NYUv2's colour-camera intrinsics at 640x480 (from the NYU Depth V2 toolbox, camera_params.m). */
export const NYU_INTRINSICS: Intrinsics = { fx: 518.8579, fy: 519.4696, cx: 325.5824, cy: 253.7362, width: 640, height: 480 };

/**
 * NYU's intrinsics scaled to an image of `height` x `width`, as if the 640x480 frame were resized
 * to it (each axis on its own, so a non-square size stretches the field of view like a resize).
 * Principal points move with pixel centres: c' = (c + 0.5) s - 0.5.
 */
export function scaledIntrinsics(height: number, width: number): Intrinsics {
  const sx = width / NYU_INTRINSICS.width;
  const sy = height / NYU_INTRINSICS.height;
  return {
    fx: NYU_INTRINSICS.fx * sx,
    fy: NYU_INTRINSICS.fy * sy,
    cx: (NYU_INTRINSICS.cx + 0.5) * sx - 0.5,
    cy: (NYU_INTRINSICS.cy + 0.5) * sy - 0.5,
    width,
    height,
  };
}

/**
 * Where the camera is and how it is turned: its optical centre in world coordinates and the world
 * directions of its x (right), y (down) and z (forward) axes, an orthonormal right-handed triple.
 * A world direction w has camera coordinates (w . right, w . down, w . forward).
 */
export interface CameraPose {
  readonly position: Vec3;
  readonly right: Vec3;
  readonly down: Vec3;
  readonly forward: Vec3;
}

/**
 * The pose of a camera at `position` looking along yaw (radians about world +y, 0 = looking
 * along +z, positive turns toward +x), pitch (radians, negative looks down) and roll (radians
 * about the optical axis, positive turns the camera's x axis toward its y axis).
 */
export function cameraPose(position: Vec3, yaw: number, pitch: number, roll: number): CameraPose {
  const cp = Math.cos(pitch);
  const forward: Vec3 = [cp * Math.sin(yaw), Math.sin(pitch), cp * Math.cos(yaw)];
  // right0 = forward x up / |.|, down0 = forward x right0: a level camera (image rows horizontal).
  const r0: Vec3 = [-Math.cos(yaw), 0, Math.sin(yaw)];
  const d0: Vec3 = [
    forward[1] * r0[2] - forward[2] * r0[1],
    forward[2] * r0[0] - forward[0] * r0[2],
    forward[0] * r0[1] - forward[1] * r0[0],
  ];
  const c = Math.cos(roll);
  const s = Math.sin(roll);
  const right: Vec3 = [c * r0[0] + s * d0[0], c * r0[1] + s * d0[1], c * r0[2] + s * d0[2]];
  const down: Vec3 = [-s * r0[0] + c * d0[0], -s * r0[1] + c * d0[1], -s * r0[2] + c * d0[2]];
  return { position, right, down, forward };
}

/** A world direction in camera coordinates (x right, y down, z forward). */
export function worldToCamera(pose: CameraPose, w: Vec3): Vec3 {
  const dot = (a: Vec3) => a[0] * w[0] + a[1] * w[1] + a[2] * w[2];
  return [dot(pose.right), dot(pose.down), dot(pose.forward)];
}
