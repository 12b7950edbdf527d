/** The `webmtl report RUN` action: (re)writes RUN/report.html from the run folder. */
import { writeReport } from './report/index.js';

/** Writes the report of the run in `dir` and prints its path. */
export async function reportCommand(dir: string): Promise<void> {
  const path = await writeReport(dir);
  process.stdout.write(`webmtl: report written to ${path}\n`);
}
