/**
 * The nn layer: modules, layers and initialisers.
 */
export * from './module.js';
export * from './init.js';
export * from './layers.js';
export * from './layers-extra.js';
export * from './layers-pool.js';
export * from './layers-dropout.js';
export * from './backbones/index.js';
export * from './heads/index.js';
