/**
 * The nn layer: modules, layers and initialisers.
 */
export * from './module.js';
export * from './init.js';
export * from './layers.js';
