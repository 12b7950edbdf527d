/**
 * The engine without the tape: raw kernel launchers. Backward rules are written with these, so
 * computing a gradient never records anything.
 */
export * from './elementwise.js';
export * from './copy.js';
export * from './reduce.js';
export * from './softmax.js';
export * from './matmul.js';
export * from './cast.js';
export * from './conv.js';
