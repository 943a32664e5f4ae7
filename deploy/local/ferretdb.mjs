// Step 6: build .local/bin/ferretdb from the FerretDB module source on the Go module proxy.
// (`go install ...@v1.24.0` does not work here: the proxy refuses the module's /@v/list.)
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { aptInstall } from './system.mjs';
import { LOCAL, REPO, StackError, capture, dirs, log, mkdirp, secs, which } from './util.mjs';

const FERRETDB_VERSION = 'v1.24.0';
/**
 * Our one patch to FerretDB's source, applied before the build (the stamp names it, so a binary
 * built without it is rebuilt). FerretDB v1.24's SQLite backend creates the `_id` index of every
 * collection on `_ferretdb_sjson->"_id"` but looks documents up by `_ferretdb_sjson->'$._id'`:
 * SQLite cannot match the two expressions, so every find, update and delete by `_id` read and
 * parsed the whole collection (a run's result write took 8 ms with 400 runs stored, 23 ms with
 * 1,600; FerretDB used more CPU than the gateways and workers together in the benchmarks). With
 * the lookup written as the index is (`->'_id'`: the same key; SQLite's `EXPLAIN QUERY PLAN`
 * says SCAN before, SEARCH USING INDEX after) it is an index search.
 */
const FERRETDB_PATCH = {
  file: 'internal/backends/sqlite/metadata/metadata.go',
  from: `IDColumn = DefaultColumn + "->'$._id'"`,
  to: `IDColumn = DefaultColumn + "->'_id'"`,
};
const FERRETDB_BUILD = `${FERRETDB_VERSION}+sqlite-id-index`;
const PROXY = 'https://proxy.golang.org';
const FERRETDB_MODULE = `${PROXY}/github.com/!ferret!d!b/!ferret!d!b/@v/${FERRETDB_VERSION}`;
const GO_CANDIDATES = ['1.22.12', '1.23.12', '1.23.11', '1.22.11', '1.23.10', '1.22.10'];
const GOARCH = { x64: 'amd64', arm64: 'arm64' }[process.arch] ?? process.arch;
const TOOLCHAINS = path.join(LOCAL, 'go-toolchain');

const stampFile = () => path.join(dirs.bin, 'ferretdb.version');

export async function ensureFerretdb(sup) {
  const bin = path.join(dirs.bin, 'ferretdb');
  const stamp = fs.existsSync(stampFile()) && fs.readFileSync(stampFile(), 'utf8').trim();
  if (fs.existsSync(bin) && stamp === FERRETDB_BUILD) {
    log(`ferretdb: ${FERRETDB_BUILD} present`);
    return bin;
  }
  removeStaleTemps();
  const go = (await systemGo()) ?? (await downloadGo(sup));
  await buildFerretdb(sup, go, bin);
  return bin;
}

/** Temp dirs of interrupted builds (named after the pid of a stack that is gone). */
function removeStaleTemps() {
  for (const [dir, prefix] of [
    [dirs.cache, 'ferretdb-src-'],
    [TOOLCHAINS, 'tmp-'],
  ]) {
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      const pid = name.startsWith(prefix) && Number(name.slice(prefix.length));
      if (pid && !fs.existsSync(`/proc/${pid}`)) {
        fs.rmSync(path.join(dir, name), { recursive: true, force: true });
      }
    }
  }
}

/** Minor version of a go 1.x binary (22 for go1.22.12), or null. */
async function goVersion(go) {
  const { code, out } = await capture(go, ['env', 'GOVERSION'], {
    env: { ...process.env, GOTOOLCHAIN: 'local' },
  });
  const m = code === 0 && out.match(/go1\.(\d+)/);
  return m ? Number(m[1]) : null;
}

async function systemGo() {
  for (const go of [which('go'), '/usr/local/go/bin/go']) {
    if (go && fs.existsSync(go) && (await goVersion(go)) >= 22) return go;
  }
  for (const name of fs.existsSync(TOOLCHAINS) ? fs.readdirSync(TOOLCHAINS) : []) {
    const go = path.join(TOOLCHAINS, name, 'bin', 'go');
    if (name.startsWith('go') && fs.existsSync(go) && (await goVersion(go)) >= 22) return go;
  }
  return null;
}

async function download(url, file) {
  const res = await fetch(url);
  if (!res.ok) throw new StackError(`GET ${url}: HTTP ${res.status}`);
  await pipeline(Readable.fromWeb(res.body), fs.createWriteStream(file));
}

async function unzip(sup, zip, dest) {
  mkdirp(dest);
  if (!which('unzip') && !which('python3')) await aptInstall(sup, ['unzip']);
  const [cmd, args] = which('unzip')
    ? ['unzip', ['-q', '-o', zip, '-d', dest]]
    : [
        'python3',
        [
          '-c',
          'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])',
          zip,
          dest,
        ],
      ];
  if ((await sup.run('unzip', cmd, args)) !== 0) throw new StackError(`cannot extract ${zip}`);
}

/** Downloads a Go toolchain as a module zip from the Go module proxy. */
async function downloadGo(sup) {
  const t0 = Date.now();
  let version = null;
  for (const v of GO_CANDIDATES) {
    const res = await fetch(`${PROXY}/golang.org/toolchain/@v/v0.0.1-go${v}.linux-${GOARCH}.info`);
    if (res.ok) {
      version = v;
      break;
    }
  }
  if (!version) throw new StackError('no Go 1.22/1.23 toolchain found on the Go module proxy');
  log(`go: downloading go${version} from the Go module proxy ...`);
  const mod = `v0.0.1-go${version}.linux-${GOARCH}`;
  const tmp = mkdirp(path.join(TOOLCHAINS, `tmp-${process.pid}`));
  try {
    await download(`${PROXY}/golang.org/toolchain/@v/${mod}.zip`, path.join(tmp, 'go.zip'));
    await unzip(sup, path.join(tmp, 'go.zip'), tmp);
    const root = path.join(tmp, `golang.org/toolchain@${mod}`);
    // Module zips do not record executable bits; the go command restores them the same way.
    for (const sub of ['bin', 'pkg/tool']) {
      for (const f of fs.readdirSync(path.join(root, sub), { recursive: true })) {
        const file = path.join(root, sub, f);
        if (fs.statSync(file).isFile()) fs.chmodSync(file, 0o755);
      }
    }
    const final = path.join(TOOLCHAINS, `go${version}`);
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(root, final);
    log(`go: go${version} ready in ${path.relative(REPO, final)} (${secs(t0)})`);
    return path.join(final, 'bin', 'go');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function buildFerretdb(sup, go, bin) {
  const t0 = Date.now();
  log(`ferretdb: building ${FERRETDB_BUILD} with ${go} (about a minute) ...`);
  const tmp = mkdirp(path.join(dirs.cache, `ferretdb-src-${process.pid}`));
  try {
    await download(`${FERRETDB_MODULE}.zip`, path.join(tmp, 'src.zip'));
    await unzip(sup, path.join(tmp, 'src.zip'), tmp);
    const srcDir = path.join(tmp, `github.com/FerretDB/FerretDB@${FERRETDB_VERSION}`);
    // Without it the binary panics at start (normally written by the project's task runner).
    fs.writeFileSync(path.join(srcDir, 'build/version/version.txt'), FERRETDB_VERSION);
    const patched = path.join(srcDir, FERRETDB_PATCH.file);
    const source = fs.readFileSync(patched, 'utf8');
    if (!source.includes(FERRETDB_PATCH.from)) {
      throw new StackError(`ferretdb: ${FERRETDB_PATCH.file} no longer has the line we patch`);
    }
    fs.writeFileSync(patched, source.replace(FERRETDB_PATCH.from, FERRETDB_PATCH.to));
    // Module and build caches live in the temp dir too: ~900 MB that only a rebuild would use.
    const gopath = path.join(tmp, 'gopath');
    const env = {
      ...process.env,
      GOENV: 'off', // ignore the user's `go env -w` settings
      GOFLAGS: '-buildvcs=false -modcacherw', // no -mod=mod; a writable module cache can be rm'd
      GOTOOLCHAIN: 'local',
      GOWORK: 'off',
      GOPATH: gopath,
      GOMODCACHE: path.join(gopath, 'pkg', 'mod'),
      GOCACHE: path.join(tmp, 'gocache'),
      GOPROXY: process.env.GOPROXY || `${PROXY},direct`,
      CGO_ENABLED: '0',
    };
    mkdirp(dirs.bin);
    const out = `${bin}.${process.pid}.tmp`;
    const args = ['build', '-trimpath', '-o', out, './cmd/ferretdb'];
    const logFile = path.join(mkdirp(dirs.log), 'ferretdb-build.log');
    fs.writeFileSync(logFile, `${go} ${args.join(' ')}\n`);
    if ((await sup.run('go build', go, args, { cwd: srcDir, env, logFile })) !== 0) {
      const tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
      throw new StackError(`go build of ferretdb failed; end of ${logFile}:\n${tail}`);
    }
    fs.renameSync(out, bin);
    fs.writeFileSync(stampFile(), `${FERRETDB_BUILD}\n`);
    log(`ferretdb: built ${path.relative(REPO, bin)} (${secs(t0)})`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
