/**
 * Writes the Markdown table and the charts again from a results JSON file, without running
 * anything: `node --import tsx bench/render.ts [bench/results/mqtt.json...]`.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Failure, type Machine, type ScenarioSummary, writeReport } from './report.js';
import type { RunResult } from './scenarios.js';

interface ResultsFile {
  machine: Machine;
  scenarios: ScenarioSummary[];
  runs?: RunResult[];
  failures: Failure[];
}

const files = process.argv.slice(2);
if (files.length === 0) files.push(fileURLToPath(new URL('./results/mqtt.json', import.meta.url)));
for (const file of files) {
  const data = JSON.parse(readFileSync(file, 'utf8')) as ResultsFile;
  const written = writeReport(
    dirname(file),
    basename(file, '.json'),
    data.scenarios,
    data.machine,
    data.runs ?? [],
    data.failures,
  );
  process.stdout.write(`wrote ${written.join(', ')}\n`);
}
