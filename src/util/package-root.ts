import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The directory of Tandem's package.json, found by walking up from `from` (this module by
 * default), so that files shipped with the package (the object registry, package.json) resolve
 * the same from `src/` under tsx and from `dist/` after the build.
 */
export function packageRoot(from?: string): string {
  if (from === undefined && cached) return cached;
  let dir = dirname(from ?? fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate) && JSON.parse(readFileSync(candidate, 'utf8')).name === 'tandem') {
      if (from === undefined) cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`cannot find the tandem package root above ${from ?? 'this module'}`);
    dir = parent;
  }
}

export function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string;
}
