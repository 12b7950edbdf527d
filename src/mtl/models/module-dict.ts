/**
 * A torch.nn.ModuleDict-style container: child modules registered under string keys (task names,
 * stage names), so parameters are named `<container>.<key>.<...>` as in PyTorch.
 */
import { ArgumentError } from '../../errors.js';
import { Module } from '../../nn/module.js';

/** Children registered under the given keys, in insertion order; `get(key)` returns one. */
export class ModuleDict<M extends Module> extends Module {
  private readonly byKey = new Map<string, M>();

  constructor(entries: Iterable<readonly [string, M]>) {
    super();
    for (const [key, m] of entries) this.byKey.set(key, this.child(key, m));
  }

  /** The module under `key`; throws an ArgumentError listing the keys when there is none. */
  get(key: string): M {
    const m = this.byKey.get(key);
    if (!m) throw new ArgumentError('ModuleDict', `no module '${key}' (keys: ${[...this.byKey.keys()].join(', ')})`);
    return m;
  }

  /** True when a module is registered under `key`. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** The keys, in insertion order. */
  keys(): string[] {
    return [...this.byKey.keys()];
  }

  /** The modules, in insertion order. */
  values(): M[] {
    return [...this.byKey.values()];
  }

  /** [key, module] pairs, in insertion order. */
  entries(): [string, M][] {
    return [...this.byKey.entries()];
  }
}
