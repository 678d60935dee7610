// The file an import reads: a local regular file, checked before any SQL runs.

import { isAbsolute, resolve } from 'node:path';
import { statSync } from 'node:fs';
import { StorageError } from '../../errors.ts';

const GLOB_CHARS = /[*?[\]{}]/;

/**
 * Import paths are local files only. DuckDB would glob `*?[]{}` and fetch URLs (http://, s3://)
 * through extensions; both are refused here, before any SQL runs. The path itself is bound.
 * Returns the absolute path.
 */
export function checkImportPath(path: string): string {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new StorageError('io', 'import path is empty or contains NUL');
  }
  const abs = isAbsolute(path) ? path : resolve(path);
  if (GLOB_CHARS.test(abs))
    throw new StorageError('io', `import path must not contain glob characters: ${path}`);
  let isFile = false;
  try {
    isFile = statSync(abs).isFile();
  } catch (err) {
    throw new StorageError('io', `import file not found: ${path}`, { cause: err });
  }
  if (!isFile) throw new StorageError('io', `import path is not a regular file: ${path}`);
  return abs;
}
