/**
 * The built-in synthetic multi-task scenes: ray-cast indoor rooms with boxes, spheres and
 * cylinders, and per-pixel ground truth for semantic segmentation, depth, normals, edges and
 * saliency. `SyntheticScenes` is the dataset; the rest is exported for tests, tools and anyone
 * who wants to render scenes of their own.
 */
export { SyntheticScenes, SYNTHETIC_TASKS, type SyntheticScenesOptions, type SyntheticTask } from './dataset.js';
export { SYNTHETIC_CLASSES, SyntheticClass, FIRST_OBJECT_ID, sampleScene, type Scene, type SceneObject, type Light } from './scene.js';
export { renderScene, type RenderOutput } from './render.js';
export { semanticEdges, saliency, normaliseImage, IMAGE_MEAN, IMAGE_STD } from './labels.js';
export { NYU_INTRINSICS, scaledIntrinsics, cameraPose, worldToCamera, type Intrinsics, type CameraPose } from './camera.js';
export { Rng, sampleSeed } from './rng.js';
export type { Room, Shape, BoxShape, SphereShape, CylinderShape, Vec3 } from './geometry.js';
