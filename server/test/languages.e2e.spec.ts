import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DEFAULT_RUN_LIMITS,
  languageInfos,
  type LanguageInfo,
  type SourceFile,
} from '@coderoom/contracts';
import { runToEnd, startStack, text, withLogs, type ClientSocket, type Stack } from './harness.js';
import { languageChecks, languages, readProgram, target } from './language-checks.js';
import { TIERS } from './tiers.js';

// Every language in sandbox/languages is tested here through the real path (socket.io ->
// gateway -> queue -> worker -> container): adding a language folder adds it to these tests.
// The checks of language-checks.ts run on every sandbox tier (tiers.ts: runc, gVisor, slot); the
// rest (the list, versions, multi-file programs, starter code) on the default tier.

const ids = languages.map((l) => l.id);
/** The images' tag the worker uses (build-images.mjs tags the same). */
const IMAGE_TAG = process.env.SANDBOX_IMAGE_TAG || 'latest';

/** The ten languages the service promises; more may be added as data. */
const REQUIRED = [
  'bash',
  'c',
  'cpp',
  'go',
  'java',
  'javascript',
  'python',
  'ruby',
  'rust',
  'typescript',
];

/** At least this many languages (other versions not counted), issue 16. */
const AT_LEAST = 30;

/** JVM, Go and Rust compiles take seconds on one CPU. */
const RUN_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 90_000;

/**
 * One multi-file program per language: the entry file (the language's `fileName`) uses a function
 * from a second file in the subdirectory `lib/`, and prints three lines 300 ms apart, so the same
 * run checks that all sources are compiled and that output streams line by line.
 */
const MULTI_FILE_OUTPUT = 'part 1 of 3\npart 2 of 3\npart 3 of 3\n';
const MULTI_FILE: Record<string, SourceFile[]> = {
  python: [
    {
      path: 'main.py',
      content:
        'import time\nfrom lib.text import line\n\nfor i in range(1, 4):\n' +
        '    print(line(i, 3))\n    time.sleep(0.3)\n',
    },
    { path: 'lib/text.py', content: 'def line(i, n):\n    return f"part {i} of {n}"\n' },
  ],
  javascript: [
    {
      path: 'main.js',
      content:
        "const { line } = require('./lib/text');\n\nlet i = 1;\n" +
        'const timer = setInterval(() => {\n  console.log(line(i, 3));\n' +
        '  if (++i > 3) clearInterval(timer);\n}, 300);\n',
    },
    { path: 'lib/text.js', content: 'exports.line = (i, n) => `part ${i} of ${n}`;\n' },
  ],
  typescript: [
    {
      path: 'main.ts',
      content:
        "import { line } from './lib/text';\n\n" +
        'const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));\n\n' +
        'async function main(): Promise<void> {\n  for (let i = 1; i <= 3; i++) {\n' +
        '    console.log(line(i, 3));\n    await sleep(300);\n  }\n}\nvoid main();\n',
    },
    {
      path: 'lib/text.ts',
      content:
        'export function line(i: number, n: number): string {\n  return `part ${i} of ${n}`;\n}\n',
    },
  ],
  c: [
    {
      path: 'main.c',
      content:
        '#include <stdio.h>\n#include <unistd.h>\n#include "lib/text.h"\n\nint main(void) {\n' +
        '  char buf[64];\n  for (int i = 1; i <= 3; i++) {\n    line(buf, sizeof buf, i, 3);\n' +
        '    printf("%s\\n", buf);\n    usleep(300000);\n  }\n  return 0;\n}\n',
    },
    {
      path: 'lib/text.h',
      content: '#include <stddef.h>\nvoid line(char *buf, size_t size, int i, int n);\n',
    },
    {
      path: 'lib/text.c',
      content:
        '#include <stdio.h>\n#include "text.h"\n\nvoid line(char *buf, size_t size, int i, int n) ' +
        '{ snprintf(buf, size, "part %d of %d", i, n); }\n',
    },
  ],
  cpp: [
    {
      path: 'main.cpp',
      // '\n', not std::endl: streaming must not depend on the program flushing.
      content:
        '#include <chrono>\n#include <iostream>\n#include <thread>\n#include "lib/text.hpp"\n\n' +
        'int main() {\n  for (int i = 1; i <= 3; i++) {\n' +
        "    std::cout << line(i, 3) << '\\n';\n" +
        '    std::this_thread::sleep_for(std::chrono::milliseconds(300));\n  }\n}\n',
    },
    {
      path: 'lib/text.hpp',
      content: '#pragma once\n#include <string>\nstd::string line(int i, int n);\n',
    },
    {
      path: 'lib/text.cpp',
      content:
        '#include "text.hpp"\n\nstd::string line(int i, int n) ' +
        '{ return "part " + std::to_string(i) + " of " + std::to_string(n); }\n',
    },
  ],
  java: [
    {
      path: 'Main.java',
      content:
        'import lib.Text;\n\npublic class Main {\n' +
        '  public static void main(String[] args) throws InterruptedException {\n' +
        '    for (int i = 1; i <= 3; i++) {\n      System.out.println(Text.line(i, 3));\n' +
        '      Thread.sleep(300);\n    }\n  }\n}\n',
    },
    {
      path: 'lib/Text.java',
      content:
        'package lib;\n\npublic class Text {\n  public static String line(int i, int n) {\n' +
        '    return "part " + i + " of " + n;\n  }\n}\n',
    },
  ],
  go: [
    {
      // No go.mod: the compile command makes one (module "main").
      path: 'main.go',
      content:
        'package main\n\nimport (\n\t"fmt"\n\t"time"\n\n\t"main/lib"\n)\n\nfunc main() {\n' +
        '\tfor i := 1; i <= 3; i++ {\n\t\tfmt.Println(lib.Line(i, 3))\n' +
        '\t\ttime.Sleep(300 * time.Millisecond)\n\t}\n}\n',
    },
    {
      path: 'lib/text.go',
      content:
        'package lib\n\nimport "fmt"\n\n' +
        'func Line(i, n int) string { return fmt.Sprintf("part %d of %d", i, n) }\n',
    },
  ],
  rust: [
    {
      path: 'main.rs',
      content:
        'mod lib;\n\nuse std::{thread, time::Duration};\n\nfn main() {\n    for i in 1..=3 {\n' +
        '        println!("{}", lib::text::line(i, 3));\n' +
        '        thread::sleep(Duration::from_millis(300));\n    }\n}\n',
    },
    { path: 'lib/mod.rs', content: 'pub mod text;\n' },
    {
      path: 'lib/text.rs',
      content: 'pub fn line(i: u32, n: u32) -> String {\n    format!("part {} of {}", i, n)\n}\n',
    },
  ],
  ruby: [
    {
      path: 'main.rb',
      content:
        "require_relative 'lib/text'\n\n(1..3).each do |i|\n  puts line(i, 3)\n  sleep 0.3\nend\n",
    },
    { path: 'lib/text.rb', content: 'def line(i, n)\n  "part #{i} of #{n}"\nend\n' },
  ],
  bash: [
    {
      path: 'main.sh',
      content: 'source lib/text.sh\nfor i in 1 2 3; do\n  line "$i" 3\n  sleep 0.3\ndone\n',
    },
    { path: 'lib/text.sh', content: 'line() { echo "part $1 of $2"; }\n' },
  ],
};

/** Limits other than the defaults, so that languages:list shows it reports the worker's. */
const WORKER_ENV = {
  RUN_WALL_MS: '10000',
  COMPILE_WALL_MS: '30000',
  RUN_CPU_MS: '4500',
  OUTPUT_LIMIT_BYTES: '100000',
  WORKER_CONCURRENCY: '2',
};
/** Several runs per language: past a student's 30 a minute. */
const GATEWAY_ENV = { RUN_QUOTAS: JSON.stringify({ student: { perMinute: 1000 } }) };

it('finds the ten languages in sandbox/languages, and at least 30 in all', () => {
  expect(ids).toEqual(expect.arrayContaining(REQUIRED));
  expect(languages.filter((l) => !l.versionOf).length).toBeGreaterThanOrEqual(AT_LEAST);
  // Python 3.13 and the previous one; Java 21 and 17.
  expect(
    languages.filter((l) => [l.id, l.versionOf].includes('python')).map((l) => l.version),
  ).toEqual([expect.stringMatching(/^3\.13\./), expect.stringMatching(/^3\.11\./)]);
  expect(
    languages.filter((l) => [l.id, l.versionOf].includes('java')).map((l) => l.version),
  ).toEqual([expect.stringMatching(/^21\./), expect.stringMatching(/^17\./)]);
});

describe.each(TIERS)('on the $name tier', (tier) => {
  const why = tier.unusable();
  if (why) console.warn(`language checks on the ${tier.name} tier skipped: ${why}`);
  const suite = why ? describe.skip : describe;

  suite('every language', () => {
    let stack: Stack;
    let s: ClientSocket;

    beforeAll(async () => {
      stack = await startStack({
        name: `languages-${tier.name}`,
        redisDb: 8,
        gatewayEnv: GATEWAY_ENV,
        workerEnv: { ...WORKER_ENV, ...tier.workerEnv },
      });
      s = await stack.connect(await stack.token('alice'));
    }, 120_000);

    afterAll(async () => {
      await stack?.stop();
    }, 60_000);

    describe.each(languages)('$id', (language) => {
      for (const check of languageChecks(language)) {
        it(
          check.title,
          withLogs(
            () => stack,
            async () => check.verify(await runToEnd(s, check.payload, RUN_TIMEOUT_MS)),
          ),
          TEST_TIMEOUT_MS,
        );
      }
    });
  });
});

describe('on the default tier: the list, versions, multi-file programs, starter code', () => {
  let stack: Stack;
  let alice: ClientSocket;

  beforeAll(async () => {
    stack = await startStack({
      name: 'languages',
      redisDb: 8,
      gatewayEnv: GATEWAY_ENV,
      workerEnv: WORKER_ENV,
    });
    alice = await stack.connect(await stack.token('alice'));
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  }, 30_000);

  it('lists every language with its name, version, file name and the limits the workers apply (languages:list, GET /api/languages)', async () => {
    const ack = await alice.emitWithAck('languages:list', {});
    expect(ack.ok).toBe(true);
    const listed = (ack as { ok: true; languages: LanguageInfo[] }).languages;
    const byId = (a: LanguageInfo, b: LanguageInfo) => a.id.localeCompare(b.id);
    // This test's worker: its environment above, the defaults elsewhere, language.json on top.
    const worker = {
      ...DEFAULT_RUN_LIMITS,
      wallMs: 10_000,
      compileWallMs: 30_000,
      cpuMs: 4500,
      outputBytes: 100_000,
    };
    expect([...listed].sort(byId)).toEqual(languageInfos(languages, worker).sort(byId));
    // Other versions are listed in their language's `versions`, default first, not on their own.
    expect(listed.map((l) => l.id)).not.toContain('python-3.11');
    expect(listed.find((l) => l.id === 'python')?.versions).toEqual([
      languages.find((l) => l.id === 'python')?.version,
      languages.find((l) => l.id === 'python-3.11')?.version,
    ]);
    expect(listed.find((l) => l.id === 'javascript')?.versions).toBeUndefined();
    expect(listed.map((l) => l.id)).toEqual(expect.arrayContaining(REQUIRED));
    // Spelled out for two languages, so the expectation does not rest on languageInfoWith alone.
    expect(listed.find((l) => l.id === 'python')?.limits).toEqual({
      cpuMs: 4500,
      compileCpuMs: null,
      wallMs: 10_000,
      compileWallMs: null,
      submitWallMs: 15_000,
      submitCpuMs: 12_000,
      memoryMb: 256,
      cpus: 1,
      pids: 64,
      tmpfsMb: 64,
      fileSizeMb: 64,
      openFiles: 256,
      outputBytes: 100_000,
    });
    expect(listed.find((l) => l.id === 'java')?.limits).toEqual({
      cpuMs: 4500,
      compileCpuMs: 10_000,
      wallMs: 10_000,
      compileWallMs: 30_000,
      submitWallMs: 15_000,
      submitCpuMs: 12_000,
      memoryMb: 512,
      cpus: 1,
      pids: 128,
      tmpfsMb: 64,
      fileSizeMb: 64,
      openFiles: 256,
      outputBytes: 100_000,
    });
    const res = await fetch(`${stack.url}/api/languages`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { languages: LanguageInfo[] }).languages).toEqual(listed);
  });

  describe.each(languages)('$id', (language) => {
    it('declares the version its image really ships', () => {
      expect(language.versionCommand).toBeDefined();
      const out = execFileSync(
        'docker',
        [
          'run',
          '--rm',
          '--network',
          'none',
          '--read-only',
          '--tmpfs',
          '/tmp',
          '--user',
          '10001:10001',
          '--entrypoint',
          'sh',
          `coderoom-sandbox-${language.image}:${IMAGE_TAG}`,
          '-c',
          language.versionCommand ?? 'false',
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(out.trim()).toBe(language.version);
    }, 70_000);

    it(
      'prints Hello, World! (helloProgram, also the starter code)',
      async () => {
        expect(language.helloProgram).toBeDefined();
        const source = readProgram(language, language.helloProgram ?? '');
        const run = await runToEnd(alice, { ...target(language), source }, RUN_TIMEOUT_MS);
        expect({ verdict: run.finished.verdict, stdout: text(run.outputs, 'stdout') }).toEqual({
          verdict: 'OK',
          stdout: 'Hello, World!\n',
        });
      },
      TEST_TIMEOUT_MS,
    );

    const files = MULTI_FILE[language.versionOf ?? language.id];
    if (files) {
      it(
        'runs a multi-file program (a function from lib/) and streams its output line by line',
        async () => {
          expect(files[0].path).toBe(language.fileName);
          const run = await runToEnd(alice, { ...target(language), files }, RUN_TIMEOUT_MS);
          expect({
            verdict: run.finished.verdict,
            stdout: text(run.outputs, 'stdout'),
            stderr: text(run.outputs, 'stderr'),
          }).toEqual({ verdict: 'OK', stdout: MULTI_FILE_OUTPUT, stderr: '' });
          // Three lines 300 ms apart: the first must arrive on its own, ~600 ms before the last.
          const stdout = run.outputs
            .map((c, i) => ({ ...c, at: run.arrivals[i] }))
            .filter((c) => c.stream === 'stdout');
          expect(stdout[0].data).toBe('part 1 of 3\n');
          const last = stdout.find((c) => c.data.includes('part 3 of 3'));
          expect(last!.at - stdout[0].at).toBeGreaterThan(400);
        },
        TEST_TIMEOUT_MS,
      );
    }
  });

  it(
    'applies per-language limits: a Java program may use more threads than the default pids',
    async () => {
      const java = languages.find((l) => l.id === 'java');
      expect(java?.limits?.pids).toBeGreaterThan(64); // the worker's default RUN_PIDS
      // 80 live threads plus the JVM's own: more than 64 processes/threads, fewer than 128.
      const source = `
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

public class Main {
  public static void main(String[] args) throws InterruptedException {
    int n = 80;
    CountDownLatch started = new CountDownLatch(n);
    CountDownLatch release = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Thread t = new Thread(() -> {
        started.countDown();
        try { release.await(); } catch (InterruptedException e) { }
      });
      t.start();
      threads.add(t);
    }
    started.await();
    System.out.println(n + " threads alive at once");
    release.countDown();
    for (Thread t : threads) t.join();
  }
}
`;
      const run = await runToEnd(alice, { language: 'java', source }, RUN_TIMEOUT_MS);
      expect(text(run.outputs, 'stderr')).toBe('');
      expect(run.finished.verdict).toBe('OK');
      expect(text(run.outputs, 'stdout')).toBe('80 threads alive at once\n');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'refuses an unknown version with UNSUPPORTED_LANGUAGE, and takes a version prefix',
    async () => {
      const refused = await alice.emitWithAck('run:start', {
        language: 'python',
        version: '2.7',
        source: 'print("x")',
      });
      expect(refused).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_LANGUAGE' } });
      const old = languages.find((l) => l.versionOf === 'python');
      const prefix = old!.version.split('.').slice(0, 2).join('.');
      const run = await runToEnd(
        alice,
        { language: 'python', version: prefix, source: 'import sys; print(sys.version_info[:2])' },
        RUN_TIMEOUT_MS,
      );
      expect(text(run.outputs, 'stdout')).toBe(`(${prefix.replace('.', ', ')})\n`);
    },
    TEST_TIMEOUT_MS,
  );
});
