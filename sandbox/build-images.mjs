#!/usr/bin/env node
// Builds the Coderoom sandbox images from Debian packages (no container registry needed).
//
//   node sandbox/build-images.mjs               build what is missing, tag :latest
//   node sandbox/build-images.mjs --jobs 1      one image at a time (default: 2 at once)
//   node sandbox/build-images.mjs --rebuild     build everything again from the mirror (e.g. for
//                                               Debian security updates), no cache
//   node sandbox/build-images.mjs --print-tags  print {"<image>":"coderoom-sandbox-<image>:<hash>"}
//
// Every folder sandbox/<name>/ or sandbox/images/<name>/ with a Dockerfile is image <name>, of one
// of two kinds, told apart by its Dockerfile:
//
// - a root image (`ARG ROOTFS` / `FROM ${ROOTFS}`, e.g. base): debootstrap (minbase +
//   packages.txt) into a temp dir under .local/, prune docs and caches, `docker import` it as
//   coderoom-rootfs-<image>:<hash>, then `docker build` the Dockerfile on top of it;
// - a layered image (`ARG BASE=coderoom-sandbox-<parent>:latest` / `FROM ${BASE}`, e.g. java):
//   `docker build` of the Dockerfile on top of the parent's exact hash tag; the Dockerfile installs
//   packages.txt with apt-get through images/install-packages.sh (host network, same mirror).
//
// Its tag is a content hash of its recipe (for a root image: packages.txt, the Dockerfile, the
// runner script, the Debian suite and the rootfs recipe below; for a layered image: every file of
// its folder, install-packages.sh and the parent's hash), so an image is rebuilt exactly when its
// recipe or its parent changes, and a second run does nothing. Images are built parents first,
// independent ones in parallel, each tagged coderoom-sandbox-<image>:<hash> and :latest.
//
// Only node: built-ins, so it runs before `npm install`.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { cp, copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SANDBOX_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(SANDBOX_DIR, '..');
const LOCAL_DIR = path.join(REPO_ROOT, '.local');
const RUNNER_PATH = path.join(SANDBOX_DIR, 'runner', 'coderoom-runner');
/** Layered images live here (root images directly under sandbox/, like base/). */
const IMAGES_DIR = path.join(SANDBOX_DIR, 'images');
/** Copied into the build context of every layered image; part of their hashes. */
const INSTALL_SCRIPT = path.join(IMAGES_DIR, 'install-packages.sh');
const SOURCES_FILE = '/etc/apt/sources.list.d/debian.sources';
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

/**
 * A root image's Debian release comes from its `release.json` ({"suite": "trixie"}). The rootfs
 * gets the suite, its `-updates` and its `-security` suites, upgraded to their newest packages;
 * the `Date:` of the three suites' Release files goes into the image's hash, so a security update
 * published by Debian is one build away (the next run rebuilds). Layered images install from the
 * same three suites.
 */
const SUITE_PARTS = ['', '-updates', '-security'];
const VARIANT = 'minbase';
/** Where the last Release dates seen are kept, for a build without the mirror (with a warning). */
const DATES_CACHE = path.join(LOCAL_DIR, 'debian-release-dates.json');
/** The tag images get besides their hash (the worker's SANDBOX_IMAGE_TAG, default latest). */
const LATEST = process.env.SANDBOX_IMAGE_TAG || 'latest';
/**
 * Removed from the rootfs before `docker import`. Deleting them in the Dockerfile alone would not
 * shrink the image (the imported layer keeps them), so it happens here. Part of the hash.
 */
const PRUNE = [
  'var/cache/apt/archives/*.deb',
  'var/cache/apt/*.bin',
  'var/lib/apt/lists/*',
  'var/log/*',
  'usr/share/doc/*',
  'usr/share/man/*',
  'usr/share/info/*',
  'usr/share/lintian/*',
  'usr/share/locale/*',
];
/** Host files debootstrap copies into the target; docker mounts its own at run time. */
const EMPTY_FILES = ['etc/resolv.conf', 'etc/hostname'];

const HEARTBEAT_MS = 15_000;
/** Images built at the same time (most of a build is downloading and unpacking). */
const DEFAULT_JOBS = 2;

// ---------------------------------------------------------------------------------------------

class BuildError extends Error {}

let interrupted = false;
/** Children still running, so a signal can stop them before the temp dirs are removed. */
const children = new Set();

function track(child) {
  children.add(child);
  child.on('close', () => children.delete(child));
  return child;
}

function fail(message) {
  throw new BuildError(message);
}

/**
 * Every image: name -> { name, dir, parent } (parent null for a root image), checked for unknown
 * parents and cycles.
 */
function discoverImages() {
  const images = new Map();
  for (const root of [SANDBOX_DIR, IMAGES_DIR]) {
    if (!existsSync(root)) continue;
    for (const e of readdirSync(root, { withFileTypes: true })) {
      const dir = path.join(root, e.name);
      if (!e.isDirectory() || !existsSync(path.join(dir, 'Dockerfile'))) continue;
      const rel = path.relative(REPO_ROOT, dir);
      if (!/^[a-z0-9][a-z0-9-]*$/.test(e.name)) fail(`bad image name ${rel}: use [a-z0-9-]`);
      if (images.has(e.name)) {
        fail(
          `two images named ${e.name}: ${path.relative(REPO_ROOT, images.get(e.name).dir)}, ${rel}`,
        );
      }
      const parent = parentOf(dir);
      images.set(e.name, { name: e.name, dir, parent, release: parent ? null : readRelease(dir) });
    }
  }
  for (const img of images.values()) {
    const seen = new Set([img.name]);
    for (let p = img.parent; p; p = images.get(p).parent) {
      if (!images.has(p)) fail(`image ${img.name}: its parent image ${p} does not exist`);
      if (seen.has(p)) fail(`image ${img.name}: its parents form a cycle`);
      seen.add(p);
    }
  }
  if (images.size === 0) fail('no images found');
  return images;
}

/** null for a root image (`ARG ROOTFS`), else the parent named by `ARG BASE=...`. */
function parentOf(dir) {
  const file = path.join(dir, 'Dockerfile');
  const text = readFileSync(file, 'utf8');
  const base = /^ARG\s+BASE=coderoom-sandbox-([a-z0-9][a-z0-9-]*):latest\s*$/m.exec(text);
  const rootfs = /^ARG\s+ROOTFS\s*$/m.test(text);
  if (base && !rootfs) return base[1];
  if (rootfs && !base) return null;
  return fail(
    `${path.relative(REPO_ROOT, file)} must declare exactly one of "ARG ROOTFS" (an image from ` +
      'debootstrap) or "ARG BASE=coderoom-sandbox-<parent>:latest" (an image on top of another)',
  );
}

/** A root image's release.json: { suite } (a Debian suite name such as "trixie"). */
function readRelease(dir) {
  const file = path.join(dir, 'release.json');
  if (!existsSync(file)) fail(`${path.relative(REPO_ROOT, file)} is missing ({"suite": "trixie"})`);
  const release = JSON.parse(readFileSync(file, 'utf8'));
  if (!/^[a-z]+$/.test(release.suite ?? '')) fail(`${file}: "suite" must be a Debian suite name`);
  return release;
}

/** The security archive beside the mirror (http://x/debian -> http://x/debian-security). */
function securityMirror() {
  if (process.env.DEBIAN_SECURITY_MIRROR) return process.env.DEBIAN_SECURITY_MIRROR;
  const m = mirror();
  return /\/debian\/?$/.test(m)
    ? m.replace(/\/?$/, '-security')
    : 'http://deb.debian.org/debian-security';
}

const suiteMirror = (suite) => (suite.endsWith('-security') ? securityMirror() : mirror());

/**
 * The `Date:` of the Release file of each suite every root image uses (suite, -updates,
 * -security), read from the mirror, for the hashes. Without the mirror: the dates seen last.
 */
async function loadReleaseDates(images) {
  let cache = {};
  try {
    cache = JSON.parse(readFileSync(DATES_CACHE, 'utf8'));
  } catch {
    // none yet
  }
  const suites = new Set();
  for (const img of images.values()) {
    if (img.release) for (const p of SUITE_PARTS) suites.add(img.release.suite + p);
  }
  const dates = {};
  await Promise.all(
    [...suites].map(async (suite) => {
      const url = `${suiteMirror(suite)}/dists/${suite}/Release`;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const date = /^Date: (.+)$/m.exec(await res.text())?.[1];
        if (!date) throw new Error('no Date: line');
        dates[suite] = date.trim();
      } catch (err) {
        if (!cache[suite]) fail(`cannot read ${url}: ${err.message}`);
        console.warn(`warning: cannot read ${url} (${err.message}); using ${cache[suite]}`);
        dates[suite] = cache[suite];
      }
    }),
  );
  for (const img of images.values()) {
    if (img.release) {
      img.releaseDates = SUITE_PARTS.map(
        (p) => `${img.release.suite + p} ${dates[img.release.suite + p]}`,
      );
    }
  }
  try {
    await mkdir(LOCAL_DIR, { recursive: true });
    await writeFile(DATES_CACHE, JSON.stringify({ ...cache, ...dates }, null, 2));
  } catch {
    // only a cache
  }
}

/** Files of a folder, recursively, as sorted relative paths. */
function listFiles(dir, prefix = '') {
  const out = [];
  for (const e of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, rel));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}

function readPackages(dir) {
  const file = path.join(dir, 'packages.txt');
  if (!existsSync(file)) fail(`${path.relative(REPO_ROOT, file)} is missing`);
  const text = readFileSync(file, 'utf8');
  const packages = text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  for (const p of packages) {
    if (!/^[a-z0-9][a-z0-9+.-]*$/.test(p)) fail(`bad package name in ${file}: ${p}`);
  }
  if (packages.length === 0 && !existsSync(path.join(dir, 'npm-packages.txt'))) {
    fail(`${file} lists no packages`);
  }
  return { text, packages };
}

/** The content hash of an image's recipe (first 12 hex chars of a sha256); memoized. */
function imageHash(images, name) {
  const img = images.get(name);
  if (img.hash) return img.hash;
  const { dir } = img;
  const h = createHash('sha256');
  const part = (label, data) => {
    h.update(`${label}\0${Buffer.byteLength(data)}\0`);
    h.update(data);
  };
  if (img.parent === null) {
    part('packages.txt', readPackages(dir).text);
    part('Dockerfile', readFileSync(path.join(dir, 'Dockerfile')));
    part('coderoom-runner', readFileSync(RUNNER_PATH));
    part('release', JSON.stringify(img.release));
    part('release-dates', img.releaseDates.join('\n'));
    part('recipe', JSON.stringify({ VARIANT, PRUNE, EMPTY_FILES, SUITE_PARTS, UPGRADE }));
  } else {
    readPackages(dir); // validates it
    part('parent', sandboxTag(img.parent, imageHash(images, img.parent)));
    part('install-packages.sh', readFileSync(INSTALL_SCRIPT));
    for (const f of listFiles(dir)) part(`file:${f}`, readFileSync(path.join(dir, f)));
  }
  img.hash = h.digest('hex').slice(0, 12);
  return img.hash;
}

const sandboxTag = (name, hash) => `coderoom-sandbox-${name}:${hash}`;
const rootfsTag = (name, hash) => `coderoom-rootfs-${name}:${hash}`;

function mirror() {
  if (process.env.DEBIAN_MIRROR) return process.env.DEBIAN_MIRROR;
  try {
    const line = readFileSync(SOURCES_FILE, 'utf8')
      .split('\n')
      .find((l) => /^URIs:/i.test(l));
    const uri = line
      ?.replace(/^URIs:/i, '')
      .trim()
      .split(/\s+/)[0];
    if (uri) return uri;
  } catch {
    // no sources file: default
  }
  return DEFAULT_MIRROR;
}

// --- processes --------------------------------------------------------------------------------

function quiet(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return {
    ok: !r.error && r.status === 0,
    error: r.error,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
  };
}

/** Image ids that a --rebuild replaced under the same tag; removed at the end, children first. */
const replaced = [];

function imageId(tag) {
  const r = quiet('docker', ['image', 'inspect', '--format', '{{.Id}}', tag]);
  return r.ok ? r.stdout.trim() : null;
}

/** Remembers the image now tagged `tag` (if any), to remove it once a rebuild replaced it. */
function rememberReplaced(tag) {
  const id = imageId(tag);
  if (id) replaced.push(id);
}

function removeReplaced() {
  // Children before parents (a parent cannot go while a child uses it): later builds first, and a
  // second pass for a rootfs whose image was only just removed. An image still in use (a
  // container, another tag) stays.
  const untagged = (id) =>
    quiet('docker', ['image', 'inspect', '--format', '{{len .RepoTags}}', id]).stdout.trim() ===
    '0';
  for (let pass = 0; pass < 2; pass++) {
    for (const id of [...replaced].reverse()) {
      if (untagged(id)) quiet('docker', ['image', 'rm', id]);
    }
  }
}

function dockerImageExists(tag) {
  return quiet('docker', ['image', 'inspect', '--format', '{{.Id}}', tag]).ok;
}

function checkDocker() {
  const r = quiet('docker', ['version', '--format', '{{.Server.Version}}']);
  if (r.error?.code === 'ENOENT') fail('docker is not installed (apt-get install docker.io)');
  if (!r.ok) {
    fail(
      `cannot talk to the Docker daemon: ${r.stderr.trim() || 'unknown error'}\n` +
        '  start it, e.g.: nohup dockerd >/tmp/dockerd.log 2>&1 &',
    );
  }
}

function checkDebootstrap() {
  const r = quiet('debootstrap', ['--version']);
  if (r.error?.code === 'ENOENT') {
    fail('debootstrap is not installed: apt-get install debootstrap');
  }
  if (process.getuid?.() !== 0) fail('debootstrap needs root: run this script as root');
}

/**
 * Runs a command, appending its output to the build log. Calls onLine for each output line and
 * prints a heartbeat with the latest line when nothing was printed for a while, so a slow step
 * visibly makes progress.
 */
function run(cmd, args, { log, progress, onLine = () => {}, env, stdin } = {}) {
  return new Promise((resolve, reject) => {
    log.write(`\n$ ${cmd} ${args.join(' ')}\n`);
    const child = track(
      spawn(cmd, args, {
        env: { ...process.env, ...env },
        stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      }),
    );
    let last = '';
    let partial = '';
    const onData = (chunk) => {
      log.write(chunk);
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop();
      for (const l of lines) {
        const line = l.replace(/\r/g, '').trimEnd();
        if (!line) continue;
        last = line;
        onLine(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setInterval(() => {
      if (progress.sinceLastPrint() >= HEARTBEAT_MS) {
        progress.print(`  ${cmd} still working${last ? `: ${last.slice(0, 100)}` : ''}`);
      }
    }, 1000);
    if (stdin) stdin(child.stdin);
    child.on('error', (err) => {
      clearInterval(timer);
      reject(new BuildError(`cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      const what = cmd === 'docker' ? `docker ${args[0]}` : cmd;
      if (code === 0) resolve();
      else reject(new BuildError(`${what} failed (${signal ?? `exit code ${code}`})`));
    });
  });
}

/** `tar -C dir -c . | docker import - tag`, failing if either side fails. */
function importRootfs(dir, tag, { log, progress }) {
  return new Promise((resolve, reject) => {
    log.write(`\n$ tar -C ${dir} --numeric-owner -c . | docker import - ${tag}\n`);
    const tar = track(
      spawn('tar', ['-C', dir, '--numeric-owner', '-c', '.'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const imp = run(
      'docker',
      ['import', '--message', `coderoom rootfs (debootstrap ${VARIANT})`, '-', tag],
      {
        log,
        progress,
        stdin: (s) => {
          s.on('error', () => {}); // EPIPE if docker import dies first; its exit code reports it
          tar.stdout.pipe(s);
        },
      },
    );
    tar.stderr.on('data', (c) => log.write(c));
    const tarDone = new Promise((res, rej) => {
      tar.on('error', (e) => rej(new BuildError(`cannot run tar: ${e.message}`)));
      tar.on('close', (code) =>
        code === 0 ? res() : rej(new BuildError(`tar failed (exit code ${code})`)),
      );
    });
    Promise.all([tarDone, imp]).then(
      () => resolve(),
      (err) => {
        // docker import may have tagged a truncated rootfs; a later run must not reuse it.
        quiet('docker', ['image', 'rm', tag]);
        reject(err);
      },
    );
  });
}

// --- temp dirs --------------------------------------------------------------------------------

/** Mount points at or below dir, deepest first (debootstrap mounts /proc and /sys in the target). */
function mountsUnder(dir) {
  let text = '';
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter(Boolean)
    .map((m) => m.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

async function removeTree(dir) {
  if (!dir || !existsSync(dir)) return;
  // Never recurse into a mounted /proc or /sys of an interrupted debootstrap.
  for (const m of mountsUnder(dir)) quiet('umount', ['-l', m]);
  if (mountsUnder(dir).length > 0) {
    console.error(`warning: ${dir} still has mounts; not removing it`);
    return;
  }
  await rm(dir, { recursive: true, force: true });
}

/** What upgradeRootfs runs in the chroot (part of the hash). */
const UPGRADE = [
  'apt-get -o Acquire::Languages=none -o Acquire::Retries=3 update',
  'DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 -y --no-install-recommends dist-upgrade',
  'apt-get clean',
];

/**
 * Points the rootfs at the suite, its -updates and its -security suites (deb822, the layered
 * images' apt-get uses the same) and upgrades it: debootstrap installs from the release alone.
 */
async function upgradeRootfs(rootfs, suite, { log, progress }) {
  const sources =
    `Types: deb\nURIs: ${mirror()}\nSuites: ${suite} ${suite}-updates\nComponents: main\n` +
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n' +
    `Types: deb\nURIs: ${securityMirror()}\nSuites: ${suite}-security\nComponents: main\n` +
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n';
  await rm(path.join(rootfs, 'etc/apt/sources.list'), { force: true });
  await mkdir(path.join(rootfs, 'etc/apt/sources.list.d'), { recursive: true });
  await writeFile(path.join(rootfs, 'etc/apt/sources.list.d/debian.sources'), sources);
  await copyFile('/etc/resolv.conf', path.join(rootfs, 'etc/resolv.conf'));
  await run('chroot', [rootfs, 'sh', '-c', `set -e; ${UPGRADE.join('; ')}`], {
    log,
    progress,
    onLine(line) {
      if (/^(\d+ upgraded, |E: )/.test(line)) progress.print(`    ${line.slice(0, 110)}`);
    },
  });
}

async function prune(rootfs) {
  for (const pattern of PRUNE) {
    const dir = path.join(rootfs, path.dirname(pattern));
    const glob = path.basename(pattern);
    const re = new RegExp(
      '^' +
        glob
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.') +
        '$',
    );
    let entries = [];
    try {
      entries = await readdir(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      if (re.test(e)) await rm(path.join(dir, e), { recursive: true, force: true });
    }
  }
  for (const f of EMPTY_FILES) {
    const file = path.join(rootfs, f);
    if (existsSync(file)) await writeFile(file, '');
  }
}

// --- output -----------------------------------------------------------------------------------

function makeProgress(name) {
  const start = Date.now();
  let lastPrint = start;
  return {
    elapsed: () => (Date.now() - start) / 1000,
    sinceLastPrint: () => Date.now() - lastPrint,
    print(msg) {
      lastPrint = Date.now();
      const secs = ((lastPrint - start) / 1000).toFixed(0).padStart(4);
      console.log(`[${name} ${secs}s] ${msg}`);
    },
  };
}

function formatBytes(n) {
  return `${(n / 1e6).toFixed(0)} MB (${n} bytes)`;
}

// --- build ------------------------------------------------------------------------------------

/**
 * Builds one image unless its hash tag exists already. Returns a row for the summary:
 * { name, tag, built, seconds }.
 */
async function buildImage(images, name, { rebuild = false } = {}) {
  const img = images.get(name);
  const hash = imageHash(images, name);
  const tag = sandboxTag(name, hash);
  const latest = latestOf(name);
  const progress = makeProgress(name);

  if (!rebuild && dockerImageExists(tag)) {
    tagLatest(tag, latest);
    progress.print(`${tag} is up to date (${latest} points at it)`);
    return { name, tag, built: false, seconds: progress.elapsed() };
  }

  const { packages } = readPackages(img.dir);
  await mkdir(LOCAL_DIR, { recursive: true });
  const logPath = path.join(LOCAL_DIR, `build-${name}.log`);
  const log = createWriteStream(logPath);
  progress.print(
    `building ${tag}${img.parent ? ` on top of ${img.parent}` : ''} ` +
      `(full log: ${path.relative(process.cwd(), logPath)})`,
  );

  let rootfs;
  let context;
  try {
    context = await mkdtemp(path.join(LOCAL_DIR, `context-${name}-`));
    // --force-rm: the classic builder otherwise keeps the container of a failed step.
    if (rebuild) rememberReplaced(tag);
    const buildArgs = ['build', '--force-rm', ...(rebuild ? ['--no-cache'] : [])];
    if (img.parent === null) {
      const rootTag = rootfsTag(name, hash);
      if (rebuild) rememberReplaced(rootTag);
      if (!rebuild && dockerImageExists(rootTag)) {
        progress.print(`reusing rootfs image ${rootTag}`);
      } else {
        checkDebootstrap();
        const mirrorUrl = mirror();
        const { suite } = img.release;
        rootfs = await mkdtemp(path.join(LOCAL_DIR, `rootfs-${name}-`));
        progress.print(
          `debootstrap ${suite} (${VARIANT}) from ${mirrorUrl}: ${packages.join(' ')} ` +
            '(takes a minute or more)',
        );
        // Print the first line of each debootstrap phase (Retrieving, Extracting, ...), not the
        // hundreds of per-package lines; the heartbeat shows the latest one meanwhile.
        const phases = new Set();
        await run(
          'debootstrap',
          [`--variant=${VARIANT}`, `--include=${packages.join(',')}`, suite, rootfs, mirrorUrl],
          {
            log,
            progress,
            onLine(line) {
              const m = /^([IWE]): (\S+)/.exec(line);
              if (!m) return;
              if (m[1] !== 'I') progress.print(`  debootstrap: ${line}`);
              else if (!phases.has(m[2]) || /(packages|system)\.\.\.$/.test(line)) {
                phases.add(m[2]);
                progress.print(`  debootstrap: ${line}`);
              }
            },
          },
        );
        progress.print(`apt-get dist-upgrade from ${suite}-updates and ${suite}-security`);
        await upgradeRootfs(rootfs, suite, { log, progress });
        progress.print('pruning docs, man pages, locales and apt caches from the rootfs');
        await prune(rootfs);
        progress.print(`docker import as ${rootTag}`);
        await importRootfs(rootfs, rootTag, { log, progress });
        await removeTree(rootfs);
        rootfs = undefined;
      }
      await copyFile(path.join(img.dir, 'Dockerfile'), path.join(context, 'Dockerfile'));
      await copyFile(RUNNER_PATH, path.join(context, 'coderoom-runner'));
      buildArgs.push('--build-arg', `ROOTFS=${rootTag}`);
    } else {
      // The folder's files and the shared install script; apt-get in the Dockerfile downloads
      // from the mirror, through the host's network like debootstrap (not docker's bridge).
      const parentTag = sandboxTag(img.parent, imageHash(images, img.parent));
      await cp(img.dir, context, { recursive: true });
      await copyFile(INSTALL_SCRIPT, path.join(context, 'install-packages.sh'));
      await packNpm(img.dir, context, { log, progress });
      progress.print(`apt-get install on top of ${parentTag}: ${packages.join(' ')}`);
      buildArgs.push('--network', 'host', '--build-arg', `BASE=${parentTag}`);
    }
    progress.print(`docker build ${tag}`);
    buildArgs.push('-t', tag, context);
    await run('docker', buildArgs, {
      log,
      progress,
      env: { DOCKER_BUILDKIT: '0' },
      onLine(line) {
        if (/^Step \d+\/\d+ :/.test(line)) progress.print(`  ${line.slice(0, 110)}`);
        // apt-get's summary of what it downloads and installs, and its errors.
        else if (/^(Need to get|After this operation|\d+ upgraded, |E: )/.test(line)) {
          progress.print(`    ${line.slice(0, 110)}`);
        }
      },
    });
    tagLatest(tag, latest);

    const size = imageSize(tag);
    const own = img.parent ? ` (${formatBytes(size - imageSize(latestOf(img.parent)))} own)` : '';
    progress.print(
      `built ${tag} (also ${latest}): ${formatBytes(size)}${own} in ` +
        `${progress.elapsed().toFixed(0)} s`,
    );
    return { name, tag, built: true, seconds: progress.elapsed() };
  } catch (err) {
    await closeLog(log);
    if (err instanceof BuildError && !interrupted) {
      const tail = readTail(logPath, 25);
      if (tail) console.error(`--- last lines of ${logPath} ---\n${tail}\n---`);
    }
    throw err;
  } finally {
    await removeTree(rootfs);
    await removeTree(context);
    await closeLog(log);
  }
}

const latestOf = (name) => `coderoom-sandbox-${name}:${LATEST}`;

/**
 * An image folder's npm-packages.txt (`name@exact-version`, one a line): each is fetched from the
 * npm registry with `npm pack` (which checks the registry's integrity hash) into the build
 * context's npm/ folder, for the Dockerfile to unpack. For toolchains newer than Debian's
 * (TypeScript). The list is part of the hash; the registry keeps a version's contents fixed.
 */
async function packNpm(dir, context, { log, progress }) {
  const file = path.join(dir, 'npm-packages.txt');
  if (!existsSync(file)) return;
  const specs = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  for (const s of specs) {
    if (!/^(@[a-z0-9-]+\/)?[a-z0-9.-]+@\d+\.\d+\.\d+$/.test(s))
      fail(`${file}: not name@x.y.z: ${s}`);
  }
  const out = path.join(context, 'npm');
  await mkdir(out, { recursive: true });
  progress.print(`npm pack ${specs.join(' ')}`);
  await run('npm', ['pack', '--silent', '--pack-destination', out, ...specs], { log, progress });
}

function imageSize(tag) {
  return Number(quiet('docker', ['image', 'inspect', '--format', '{{.Size}}', tag]).stdout);
}

/**
 * Builds every image, parents before children, at most `jobs` at once. A failed image fails its
 * children (they are not attempted); the others go on. Resolves with one row per image.
 */
async function buildAll(images, { jobs, rebuild }) {
  let running = 0;
  const waiting = [];
  const slot = async (fn) => {
    if (running < jobs) running++;
    else await new Promise((resolve) => waiting.push(resolve)); // a finishing build hands over
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
  const started = new Map();
  const build = (name) => {
    if (!started.has(name)) {
      const { parent } = images.get(name);
      const p = (parent ? build(parent) : Promise.resolve()).then(
        () => slot(() => buildImage(images, name, { rebuild })),
        () => {
          throw new BuildError(`not built because its parent image ${parent} failed`);
        },
      );
      started.set(name, p);
    }
    return started.get(name);
  };
  const names = [...images.keys()].sort();
  const results = await Promise.allSettled(names.map(build));
  return names.map((name, i) => {
    const r = results[i];
    return r.status === 'fulfilled' ? r.value : { name, error: r.reason };
  });
}

function closeLog(log) {
  if (log.writableEnded) return Promise.resolve();
  return new Promise((resolve) => log.end(resolve));
}

function tagLatest(tag, latest) {
  const r = quiet('docker', ['tag', tag, latest]);
  if (!r.ok) fail(`docker tag ${tag} ${latest} failed: ${r.stderr.trim()}`);
}

function readTail(file, n) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

const USAGE = 'usage: node sandbox/build-images.mjs [--jobs N] [--rebuild] [--print-tags]';

function parseArgs(argv) {
  const opts = { printTags: false, rebuild: false, jobs: DEFAULT_JOBS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--print-tags') opts.printTags = true;
    else if (a === '--rebuild') opts.rebuild = true;
    else if (a === '--jobs' || a.startsWith('--jobs=')) {
      const v = a === '--jobs' ? argv[++i] : a.slice('--jobs='.length);
      if (!/^[1-9][0-9]?$/.test(v ?? '')) {
        console.error(`--jobs needs a number from 1 to 99\n${USAGE}`);
        process.exit(2);
      }
      opts.jobs = Number(v);
    } else {
      console.error(`unknown argument: ${a}\n${USAGE}`);
      process.exit(2);
    }
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const images = discoverImages();
  const names = [...images.keys()].sort();
  await loadReleaseDates(images);
  if (opts.printTags) {
    const tags = names.map((n) => [n, sandboxTag(n, imageHash(images, n))]);
    console.log(JSON.stringify(Object.fromEntries(tags)));
    return;
  }
  checkDocker();
  for (const n of names) imageHash(images, n); // recipe problems show before anything is built
  const start = Date.now();
  const rows = await buildAll(images, opts);
  removeReplaced();
  const total = ((Date.now() - start) / 1000).toFixed(0);
  const failed = rows.filter((r) => r.error);
  if (!interrupted) {
    console.log('\nimage        status      time  size (own layers)     tag');
    for (const r of rows) {
      const status = r.error ? 'FAILED' : r.built ? 'built' : 'up to date';
      const time = r.error ? '' : `${r.seconds.toFixed(0)} s`;
      let size = '';
      if (!r.error) {
        const img = images.get(r.name);
        const bytes = imageSize(r.tag);
        const own = img.parent ? bytes - imageSize(latestOf(img.parent)) : bytes;
        size = `${(bytes / 1e6).toFixed(0)} MB (${(own / 1e6).toFixed(0)} MB)`;
      }
      console.log(
        `${r.name.padEnd(12)} ${status.padEnd(10)} ${time.padStart(5)}  ${size.padEnd(20)}  ` +
          `${r.tag ?? r.error.message}`,
      );
    }
  }
  if (failed.length > 0) {
    throw failed.find((r) => !/^not built because/.test(r.error.message))?.error ?? failed[0].error;
  }
  // On disk each layer counts once: a root image whole, a layered one by its own layers.
  let disk = 0;
  for (const r of rows) {
    const img = images.get(r.name);
    disk += imageSize(r.tag) - (img.parent ? imageSize(latestOf(img.parent)) : 0);
  }
  console.log(
    `all sandbox images ready (${names.join(', ')}) in ${total} s; ` +
      `${(disk / 1e9).toFixed(2)} GB on disk together (shared layers counted once)`,
  );
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  // Stop the running children; the failed step then makes main() clean up the temp dirs.
  process.on(sig, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${sig}: stopping, cleaning up...`);
    for (const c of children) c.kill('SIGTERM');
  });
}

main().catch((err) => {
  if (interrupted) {
    console.error('build interrupted');
    process.exit(130);
  }
  console.error(`build-images: ${err instanceof BuildError ? err.message : err.stack}`);
  process.exit(1);
});
