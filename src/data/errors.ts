/**
 * Errors of the dataset readers. Every one names the file or folder at fault, so a user with a
 * broken download knows what to fetch again; nothing is skipped silently.
 */
import { WebmtlError } from '../errors.js';

/**
 * A dataset file or folder that is missing, unreadable or malformed (wrong shape, dtype, value
 * range), or a split file naming a sample whose files are absent. `path` is the file or folder,
 * `problem` what is wrong with it; decoding errors from src/io (FormatError) are wrapped with the
 * original as `cause`.
 */
export class DatasetError extends WebmtlError {
  constructor(
    readonly path: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${problem}`);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}
