/// <reference types="@webgpu/types" preserve="true" />
/**
 * webmtl: multi-task dense-prediction networks on WebGPU. This is the public entry point.
 */
export * from './errors.js';
export { Runtime, grid, type RuntimeOptions } from './gpu/runtime.js';
export { defaultKernelOptions, type KernelOptions, type F16Pass, type ConvVariantName } from './gpu/kernel-options.js';
export { requestDevice, type DeviceOptions, type AcquiredDevice } from './gpu/adapter.js';
export type { Kernel, BindingKind } from './gpu/pipeline-cache.js';
export type { PoolStats } from './gpu/buffer-pool.js';
export { Profiler, type KernelTime } from './gpu/profiler.js';
export { init, runtime, shutdown, flush } from './tensor/context.js';
export { Tensor, Storage, type DType, type GradNode } from './tensor/tensor.js';
export { tidy, keep, scopeDepth } from './tensor/scope.js';
export { Generator, manualSeed, defaultGenerator } from './tensor/random.js';
export * from './tensor/creation.js';
export { sizeOf, stridesOf, broadcastShapes, type Shape } from './tensor/shape.js';
export { noGrad, isGradEnabled, requireGrad, detach, record, type BackwardFn } from './autograd/tape.js';
export { backward, grad, type GradOptions, type GradFnOptions } from './autograd/backward.js';
export { gradcheck, type GradcheckOptions, type GradMismatch } from './autograd/gradcheck.js';
export { checkpoint } from './autograd/checkpoint.js';
export { graphMemory, type GraphMemory, type GraphMemoryGroup } from './autograd/graph-memory.js';
export * from './ops/unary.js';
export * from './ops/binary.js';
export * from './ops/reduce.js';
export * from './ops/shape-ops.js';
export * from './ops/matmul.js';
export * from './ops/conv.js';
export * from './ops/pool.js';
export * from './ops/interpolate.js';
export * from './ops/norm.js';
export * from './ops/losses.js';
export { CustomKernel, compareOps, customOp, defineKernel, tuneCustomKernel, type CustomBackwardContext, type CustomDispatch, type CustomOpSpec, type OpComparison, type Workgroups } from './ops/custom-op.js';
export {
  paramsStructName,
  uniformLayout,
  wgslPrelude,
  type KernelDescriptor,
  type OverrideConstant,
  type StorageBinding,
  type StorageElement,
  type UniformField,
  type UniformType,
  type UniformValues,
} from './gpu/kernel-descriptor.js';
export * from './nn/index.js';
export * from './ops/dropout.js';
export * from './io/index.js';
export * from './optim/index.js';
export * from './mtl/index.js';
export * from './data/index.js';
