/**
 * Typed errors of the io layer. They live here rather than in src/errors.ts so that the io layer
 * owns its failure modes; both extend the shared bases, so `catch (e) { if (e instanceof
 * WebmtlError) ... }` still sees them.
 */
import { WebmtlError } from '../errors.js';
import { StateDictError } from '../nn/module.js';

/**
 * A file (or in-memory buffer) that is not a valid safetensors file or webmtl checkpoint:
 * truncated, bad header, unknown dtype, offsets out of range, an I64 value that does not fit in i32
 * and the like. `file` is the path (or the name the caller gave an in-memory buffer) and `problem`
 * says what is wrong, so the message alone tells the user which file to regenerate and why.
 */
export class FormatError extends WebmtlError {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/**
 * A well-formed checkpoint that does not fit the model, optimizer, schedule or generators it is
 * loaded into (missing or unexpected keys, shapes, dtypes, missing sections). Raised before
 * anything is written, so the targets are unchanged. It is a {@link StateDictError}, with the same
 * `missing`/`unexpected`/`mismatched` lists, plus the file and every problem found.
 */
export class CheckpointError extends StateDictError {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
    missing: readonly string[],
    unexpected: readonly string[],
    mismatched: readonly string[],
  ) {
    super(`${file}: checkpoint does not fit: ${problems.join('; ')}; nothing was loaded`, missing, unexpected, mismatched);
  }
}

/**
 * A pickle (inside a .pth/.pt file) that names a global outside the restricted reader's allowlist,
 * such as `os.system` or a user's model class. Nothing from the file was executed: the reader
 * never imports or calls anything, it only rebuilds the few types a state dict is made of. `global`
 * is the dotted name the file asked for, so the user can see what the checkpoint holds.
 */
export class UnsafePickleError extends FormatError {
  constructor(
    file: string,
    readonly global: string,
  ) {
    super(
      file,
      `refused global '${global}': the PyTorch reader only rebuilds state dicts (dicts, lists, tensors, storages); ` +
        `re-save the weights alone with torch.save(model.state_dict(), path)`,
    );
  }
}
