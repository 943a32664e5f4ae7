#!/usr/bin/env node
// Writes sandbox/seccomp/coderoom.json, the seccomp profile of every sandbox, from Docker's
// current default profile (moby-default.json, copied from github.com/moby/profiles
// seccomp/default.json at commit 3c28324314729dbade8287e868eef6338c42807a, 2026-05-06).
//
//   node sandbox/seccomp/generate.mjs           write coderoom.json (then: npx prettier --write)
//   node sandbox/seccomp/generate.mjs --check   exit 1 if coderoom.json is not what it would write
//
// Docker's profile is conditional (rules that apply only with some capability, architecture or
// kernel version), and what an older engine makes of those conditions differs (Docker 20.10 allows
// io_uring and AF_VSOCK). The sandbox's conditions are fixed, so the profile is resolved here once
// and the engine gets plain rules whatever its version:
// - no capabilities (CapDrop ALL): rules that need one are dropped, rules excluded by one kept;
// - x86_64 and aarch64 only, native system calls only: no 32-bit (x86, arm) or x32 entry points,
//   so socketcall(2) and the other multiplexers a filter cannot inspect are unreachable;
// - a kernel >= 4.8 (ptrace is then safe with seccomp; Docker gates it on that version).
// Then it takes away what a program never needs (see sandbox/README.md, "Seccomp"):
// - io_uring_setup, io_uring_enter, io_uring_register (a large kernel attack surface; newer
//   Docker blocks them too, 20.10 does not);
// - every socket family but AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK with NETLINK_ROUTE (which
//   glibc's getaddrinfo and getifaddrs use): no AF_VSOCK (on a VM host it reaches the
//   hypervisor's services), AF_ALG (kernel crypto), AF_PACKET, AF_KEY, AF_TIPC, AF_RDS, AF_CAN,
//   AF_BLUETOOTH, AF_XDP, ... (rarely used families with a history of kernel bugs, some loaded as
//   modules on demand); socketpair only for AF_UNIX.
// A denied call fails with EPERM (the profile's default action), as under Docker's own profile.
//
// It also writes coderoom-slot.json, the profile of the slot tier's long-lived containers
// (sandbox/slot/README.md): the same, plus what bubblewrap needs to build a fresh sandbox per run
// without any capability in the container:
// - clone and unshare when the flags include CLONE_NEWUSER (any other namespace flags with it):
//   the new namespaces then belong to a new user namespace, in which alone the process holds
//   capabilities; without CLONE_NEWUSER, Docker's rule above still refuses namespace flags;
// - mount, umount2 and pivot_root (the kernel still requires CAP_SYS_ADMIN, which a process has
//   only inside its own new user namespace, over mounts that namespace owns).
// The programs never get these: bwrap puts its own filter (sandbox/slot/supervisor.py) on them.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = path.join(DIR, 'moby-default.json');
const TARGET = path.join(DIR, 'coderoom.json');
const SLOT_TARGET = path.join(DIR, 'coderoom-slot.json');
const CLONE_NEWUSER = 0x10000000;

/** Architectures the sandbox runs on, by Docker's names (`includes.arches`) and libseccomp's. */
const ARCHES = [
  { docker: 'amd64', scmp: 'SCMP_ARCH_X86_64' },
  { docker: 'arm64', scmp: 'SCMP_ARCH_AARCH64' },
];
const IO_URING = ['io_uring_setup', 'io_uring_enter', 'io_uring_register'];
/** System calls whose rules are replaced by ours below. */
const REPLACED = new Set(['socket', 'socketpair', 'socketcall']);
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;

const eq = (index, value) => ({ index, value, op: 'SCMP_CMP_EQ' });
const OWN_RULES = [
  {
    names: ['socket'],
    action: 'SCMP_ACT_ALLOW',
    comment: 'coderoom: AF_UNIX, AF_INET, AF_INET6 only (one rule each)',
    args: [eq(0, AF_UNIX)],
  },
  { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [eq(0, AF_INET)] },
  { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [eq(0, AF_INET6)] },
  {
    names: ['socket'],
    action: 'SCMP_ACT_ALLOW',
    comment: 'coderoom: AF_NETLINK only with NETLINK_ROUTE (getaddrinfo, getifaddrs)',
    args: [eq(0, AF_NETLINK), eq(2, NETLINK_ROUTE)],
  },
  {
    names: ['socketpair'],
    action: 'SCMP_ACT_ALLOW',
    comment: 'coderoom: AF_UNIX only',
    args: [eq(0, AF_UNIX)],
  },
];

const maskedEq = (index, mask) => ({
  index,
  value: mask,
  valueTwo: mask,
  op: 'SCMP_CMP_MASKED_EQ',
});
const SLOT_RULES = [
  {
    names: ['clone', 'unshare'],
    action: 'SCMP_ACT_ALLOW',
    comment: 'coderoom slot: new namespaces only inside a new user namespace (bubblewrap)',
    args: [maskedEq(0, CLONE_NEWUSER)],
  },
  {
    names: ['mount', 'umount2', 'pivot_root'],
    action: 'SCMP_ACT_ALLOW',
    comment: 'coderoom slot: bubblewrap builds the sandbox (needs CAP_SYS_ADMIN in its user ns)',
  },
];

/** Whether a conditional rule of Docker's profile applies to a sandbox on one of ARCHES. */
function applies(rule) {
  const inc = rule.includes ?? {};
  const exc = rule.excludes ?? {};
  if ((inc.caps ?? []).length > 0) return false; // the sandbox has no capabilities
  const ours = ARCHES.map((a) => a.docker);
  if (inc.arches && !inc.arches.some((a) => ours.includes(a))) return false;
  if (exc.arches && ours.every((a) => exc.arches.includes(a))) return false;
  // exc.caps: excluded only for holders of a capability, so it applies. inc.minKernel: see above.
  return true;
}

export function generate(source) {
  const syscalls = [];
  for (const rule of source.syscalls) {
    if (!applies(rule)) continue;
    const names = rule.names.filter((n) => !REPLACED.has(n) && !IO_URING.includes(n));
    if (names.length === 0) continue;
    const out = { names, action: rule.action };
    if (rule.args) out.args = rule.args;
    if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
    if (rule.comment) out.comment = rule.comment;
    const arches = rule.includes?.arches?.filter((a) => ARCHES.some((x) => x.docker === a));
    // An architecture-specific rule stays specific (libseccomp skips names an arch lacks anyway).
    if (arches && arches.length < ARCHES.length) out.includes = { arches };
    syscalls.push(out);
  }
  syscalls.push(...OWN_RULES);
  return {
    comment:
      'Generated by sandbox/seccomp/generate.mjs from moby-default.json; do not edit by hand.',
    defaultAction: source.defaultAction,
    defaultErrnoRet: source.defaultErrnoRet,
    archMap: ARCHES.map((a) => ({ architecture: a.scmp, subArchitectures: [] })),
    syscalls,
  };
}

/** The slot tier's profile: the sandbox profile plus SLOT_RULES. */
export function generateSlot(source) {
  const profile = generate(source);
  return {
    ...profile,
    comment:
      'Generated by sandbox/seccomp/generate.mjs from moby-default.json (slot tier); do not edit by hand.',
    syscalls: [...profile.syscalls, ...SLOT_RULES],
  };
}

const source = JSON.parse(readFileSync(SOURCE, 'utf8'));
for (const [target, profile] of [
  [TARGET, generate(source)],
  [SLOT_TARGET, generateSlot(source)],
]) {
  if (process.argv.includes('--check')) {
    // The same JSON, whatever its layout (Prettier formats the file).
    if (JSON.stringify(JSON.parse(readFileSync(target, 'utf8'))) !== JSON.stringify(profile)) {
      console.error(`${target} is out of date: run node sandbox/seccomp/generate.mjs`);
      process.exit(1);
    }
  } else {
    writeFileSync(target, `${JSON.stringify(profile, null, 2)}\n`);
    console.log(`wrote ${path.relative(process.cwd(), target)}`);
  }
}
