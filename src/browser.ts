/// <reference types="@webgpu/types" preserve="true" />
/**
 * The browser entry point (dist/browser/webmtl.js): everything of the Node entry, which is
 * browser-safe (WebGPU through navigator.gpu; shaders inlined by the build; Node file access and
 * zlib loaded at call time under a computed name, so they never enter the bundle), the data layer
 * with it (synthetic scenes, collate/toDevice, DataLoader: see src/data/index.ts), plus the colour
 * maps the demo page and the reports draw predictions with.
 */
export * from './index.js';
export {
  imageToRgba,
  classColor,
  labelsToRgba,
  viridis,
  depthRange,
  depthToRgba,
  normalsToRgba,
  probToRgba,
  type RgbaImage,
  type DepthRange,
} from './io/visualize.js';
