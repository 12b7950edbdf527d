// Child process for the crash test in checkpoint.test.ts (run with `node --import tsx`): saves
// safetensors files to argv[2] atomically in an endless loop, alternating an all-0 and an all-1
// payload of 16 MB (iteration parity in the metadata), and prints each finished iteration. The
// payloads are encoded once, so nearly all the time is spent writing, where the parent's SIGKILL
// should land; the parent then checks that the target is still a whole file.
import { encodeSafetensorsHost } from '../../src/io/safetensors.js';
import { writeFileAtomic } from '../../src/io/node-fs.js';

const path = process.argv[2]!;
const n = 1 << 22;
const payloads = [0, 1].map((v) => encodeSafetensorsHost({ x: { dtype: 'f32', shape: [n], data: new Float32Array(n).fill(v) } }, { parity: String(v) }));
for (let i = 0; ; i++) {
  await writeFileAtomic(path, payloads[i % 2]!, 'crash-writer');
  process.stdout.write(`${i}\n`);
}
