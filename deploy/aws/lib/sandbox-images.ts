import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root: the nearest folder above this file with sandbox/build-images.mjs (from lib/ or dist/lib/). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'sandbox', 'build-images.mjs'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('sandbox/build-images.mjs not found above deploy/aws');
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = findRoot();

/**
 * The sandbox images, found the way sandbox/build-images.mjs finds them: every folder
 * sandbox/<name>/ or sandbox/images/<name>/ with a Dockerfile. Each gets an ECR repository, and
 * worker hosts pull each one by the release tag.
 */
export function sandboxImageNames(root = REPO_ROOT): string[] {
  const names: string[] = [];
  for (const dir of [join(root, 'sandbox'), join(root, 'sandbox', 'images')]) {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() && existsSync(join(dir, e.name, 'Dockerfile'))) names.push(e.name);
    }
  }
  return names.sort();
}

/** ECR repository names: images.mjs pushes to these, the stacks read from them. */
export const repositoryNames = {
  gateway: 'coderoom/gateway',
  worker: 'coderoom/worker',
  sandbox: (image: string) => `coderoom/sandbox-${image}`,
};
