// Runs before every test file: creates (once) the runtime that all files share.
import { init } from '../src/index.js';

await init();
