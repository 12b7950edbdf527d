/**
 * `webmtl convert IN.pth OUT.safetensors`: rewrites a PyTorch checkpoint's state dict as a
 * safetensors file (floats f32, integers i32, as webmtl holds them) without a GPU. The state dict
 * is found as loadPytorch finds it (top level, or under state_dict/model; `module.` removed);
 * `--key` picks another top-level key, and `--backbone NAME` passes the keys through that
 * backbone's key map (dropping its classifier), so the output loads into the backbone strictly.
 */
import type { Command } from 'commander';
import { WebmtlError } from '../errors.js';
import { writeFileAtomic } from '../io/node-fs.js';
import { pretrainedKeyMap } from '../io/pretrained.js';
import { loadPytorchHost } from '../io/pth-file.js';
import { encodeSafetensorsHost, type HostTensor } from '../io/safetensors.js';

/** Options of {@link convertPth}. */
export interface ConvertOptions {
  /** Top-level key holding the state dict (default: found, see loadPytorch). */
  key?: string;
  /** Map the keys through this backbone's key map (e.g. 'resnet50'); dropped keys are left out. */
  backbone?: string;
}

/** What {@link convertPth} wrote. */
export interface ConvertResult {
  tensors: number;
  dropped: string[];
  skipped: string[];
  nestedUnder: string | null;
  strippedPrefix: string | null;
}

/**
 * Converts the PyTorch checkpoint at `input` to a safetensors file at `output` (replaced
 * atomically), with metadata `{format: 'pt', source: <input file name>}`. Throws FormatError or
 * UnsafePickleError for an unreadable or unsafe input (nothing is written then), ArgumentError for
 * an unknown backbone, WebmtlError when input and output are the same file.
 */
export async function convertPth(input: string, output: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  if (input === output) throw new WebmtlError(`convert: the output ${output} would overwrite the input`);
  const km = opts.backbone === undefined ? null : pretrainedKeyMap(opts.backbone);
  const sd = await loadPytorchHost(input, { key: opts.key });
  const out = new Map<string, HostTensor>();
  const dropped: string[] = [];
  for (const [k, t] of sd.tensors) {
    const name = km ? km.map(k) : k;
    if (name === null) dropped.push(k);
    else if (out.has(name)) throw new WebmtlError(`convert: '${k}' maps to '${name}', which another key already took`);
    else out.set(name, t);
  }
  const base = input.slice(Math.max(input.lastIndexOf('/'), input.lastIndexOf('\\')) + 1);
  await writeFileAtomic(output, encodeSafetensorsHost(out, { format: 'pt', source: base }), 'convert');
  return { tensors: out.size, dropped, skipped: sd.skipped, nestedUnder: sd.nestedUnder, strippedPrefix: sd.strippedPrefix };
}

/** Adds the `convert` command to the webmtl program. */
export function addConvertCommand(p: Command): void {
  p.command('convert')
    .description('convert a PyTorch checkpoint (.pth/.pt from torch.save) to safetensors, without running anything from it')
    .argument('<in>', 'the .pth/.pt file')
    .argument('<out>', 'the .safetensors file to write')
    .option('--key <name>', "top-level key holding the state dict (default: the top level, 'state_dict' or 'model')")
    .option('--backbone <name>', 'map keys as this backbone loads them (e.g. resnet50), dropping its classifier')
    .action(async (input: string, output: string, opts: ConvertOptions) => {
      const r = await convertPth(input, output, opts);
      const notes = [
        r.nestedUnder ? `state dict under '${r.nestedUnder}'` : '',
        r.strippedPrefix ? `'${r.strippedPrefix}' removed from every key` : '',
        r.dropped.length ? `dropped ${r.dropped.join(', ')}` : '',
        r.skipped.length ? `left out non-tensor entries ${r.skipped.join(', ')}` : '',
      ].filter(Boolean);
      process.stdout.write(`wrote ${output}: ${r.tensors} tensors${notes.length ? ` (${notes.join('; ')})` : ''}\n`);
    });
}
