import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The Node.js version of the images and of the local stack: deploy/docker/node-version.json,
 * found upwards from this file (lib/ when run from source by the tests, dist/lib/ by `cdk`).
 */
function pinnedNodeVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'docker', 'node-version.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { node: string }).node;
    if (dirname(dir) === dir) throw new Error('deploy/docker/node-version.json not found');
  }
}

export const NODE_VERSION = pinnedNodeVersion();
