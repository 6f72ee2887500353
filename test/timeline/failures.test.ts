/**
 * The failure-line corpus: real output of each tool, the lines a person would
 * point at when asked "what broke?", and the summaries of success that only
 * look like failures.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FAILURE_PATTERNS, failureKey, failureLines, MAX_LINE_CHARS } from '../../src/timeline/failures.js';

interface Case {
  name: string;
  text: string;
  /** Expected failure lines as [tool, kind, start of the line]. */
  want: [string, string, string][];
}

const CASES: Case[] = [
  {
    name: 'vitest: a failing test, its assertion, the summary',
    text: `
 RUN  v3.2.4 /home/dev/queue

 ❯ src/queue.test.ts (12 tests | 1 failed) 41ms
   ✓ Queue > enqueues 3ms
   × Queue > drains in order 9ms
     → expected 7 to equal 9

⎯⎯⎯⎯⎯⎯⎯ Failed Tests 1 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  src/queue.test.ts > Queue > drains in order
AssertionError: expected 7 to equal 9

- Expected
+ Received

- 9
+ 7

 ❯ src/queue.test.ts:42:31
     40|     q.push(3);
     41|     await q.drain();
     42|     expect(q.sum()).toBe(9);
       |                     ^

 Test Files  1 failed | 2 passed (3)
      Tests  1 failed | 11 passed (12)
   Start at  14:32:05
   Duration  1.21s`,
    want: [
      ['vitest', 'summary', '❯ src/queue.test.ts (12 tests | 1 failed)'],
      ['vitest', 'test', '× Queue > drains in order 9ms'],
      ['vitest', 'test', 'FAIL src/queue.test.ts > Queue > drains in order'],
      ['assert', 'assertion', 'AssertionError: expected 7 to equal 9'],
      ['vitest', 'summary', 'Test Files 1 failed'],
      ['vitest', 'summary', 'Tests 1 failed | 11 passed'],
    ],
  },
  {
    name: 'jest: FAIL, the failing test, expect(received), the summary',
    text: `FAIL src/cache.test.js
  Cache
    ✓ stores (2 ms)
    ✕ expires after ttl (5 ms)

  ● Cache › expires after ttl

    expect(received).toBe(expected) // Object.is equality

    Expected: undefined
    Received: "v"

      12 |     jest.advanceTimersByTime(1001);
    > 13 |     expect(c.get('k')).toBe(undefined);
         |                        ^

      at Object.toBe (src/cache.test.js:13:24)

Test Suites: 1 failed, 3 passed, 4 total
Tests:       1 failed, 20 passed, 21 total
Snapshots:   0 total
Time:        1.234 s`,
    want: [
      ['jest', 'test', 'FAIL src/cache.test.js'],
      ['jest', 'test', '✕ expires after ttl (5 ms)'],
      ['jest', 'test', '● Cache › expires after ttl'],
      ['jest', 'assertion', 'expect(received).toBe(expected)'],
      ['jest', 'summary', 'Test Suites: 1 failed'],
      ['jest', 'summary', 'Tests: 1 failed'],
    ],
  },
  {
    name: 'mocha: failing count and the assertion',
    text: `  Queue
    ✔ enqueues
    1) drains in order

  1 passing (8ms)
  1 failing

  1) Queue
       drains in order:

      AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:

7 !== 9

      + expected - actual

      at Context.<anonymous> (test/queue.spec.js:14:12)
      at process.processImmediate (node:internal/timers:483:21)`,
    want: [
      ['mocha', 'summary', '1 failing'],
      ['assert', 'assertion', 'AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:'],
    ],
  },
  {
    name: 'pytest: E lines, FAILED line, summary',
    text: `============================= test session starts ==============================
platform linux -- Python 3.12.3, pytest-8.2.0, pluggy-1.5.0
collected 12 items

tests/test_queue.py ...........F                                         [100%]

=================================== FAILURES ===================================
______________________________ test_drains_in_order ______________________________

    def test_drains_in_order():
        q = Queue([3, 4])
>       assert q.total() == 9
E       assert 7 == 9
E        +  where 7 = <bound method Queue.total of <Queue>>()

tests/test_queue.py:14: AssertionError
=========================== short test summary info ============================
FAILED tests/test_queue.py::test_drains_in_order - assert 7 == 9
========================= 1 failed, 11 passed in 0.12s =========================`,
    want: [
      ['pytest', 'assertion', 'E assert 7 == 9'],
      ['pytest', 'assertion', 'E + where 7'],
      ['pytest', 'test', 'FAILED tests/test_queue.py::test_drains_in_order'],
      ['pytest', 'summary', '========================= 1 failed, 11 passed'],
    ],
  },
  {
    name: 'python unittest',
    text: `..F
======================================================================
FAIL: test_total (test_queue.QueueTest.test_total)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/home/dev/q/test_queue.py", line 9, in test_total
    self.assertEqual(q.total(), 9)
AssertionError: 7 != 9

----------------------------------------------------------------------
Ran 3 tests in 0.001s

FAILED (failures=1)`,
    want: [
      ['unittest', 'test', 'FAIL: test_total (test_queue.QueueTest.test_total)'],
      ['python', 'runtime', 'Traceback (most recent call last):'],
      ['assert', 'assertion', 'AssertionError: 7 != 9'],
      ['unittest', 'summary', 'FAILED (failures=1)'],
    ],
  },
  {
    name: 'go test: --- FAIL, the t.Errorf line, FAIL lines',
    text: `=== RUN   TestEnqueue
--- PASS: TestEnqueue (0.00s)
=== RUN   TestDrain
    queue_test.go:21: drained 7, want 9
--- FAIL: TestDrain (0.00s)
FAIL
FAIL	github.com/dev/queue	0.004s
FAIL`,
    want: [
      ['go test', 'assertion', 'queue_test.go:21: drained 7, want 9'],
      ['go test', 'test', '--- FAIL: TestDrain'],
      ['go test', 'summary', 'FAIL'],
      ['go test', 'summary', 'FAIL github.com/dev/queue 0.004s'],
      ['go test', 'summary', 'FAIL'],
    ],
  },
  {
    name: 'go: panic with goroutine trace; a build error',
    text: `panic: runtime error: index out of range [3] with length 3

goroutine 1 [running]:
main.main()
	/home/dev/q/main.go:8 +0x1d
exit status 2
fatal error: all goroutines are asleep - deadlock!
# github.com/dev/queue
./queue.go:14:9: undefined: drainAll`,
    want: [
      ['go', 'runtime', 'panic: runtime error: index out of range [3] with length 3'],
      ['go', 'runtime', 'fatal error: all goroutines are asleep - deadlock!'],
      ['go build', 'compile', './queue.go:14:9: undefined: drainAll'],
    ],
  },
  {
    name: 'cargo test: FAILED test, panic, result, error line',
    text: `running 2 tests
test tests::enqueues ... ok
test tests::drains_in_order ... FAILED

failures:

---- tests::drains_in_order stdout ----
thread 'tests::drains_in_order' panicked at src/lib.rs:21:9:
assertion \`left == right\` failed
  left: 7
 right: 9
note: run with \`RUST_BACKTRACE=1\` environment variable to display a backtrace

failures:
    tests::drains_in_order

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass \`--lib\``,
    want: [
      ['cargo test', 'test', 'test tests::drains_in_order ... FAILED'],
      ['rust', 'runtime', "thread 'tests::drains_in_order' panicked at src/lib.rs:21:9:"],
      ['cargo test', 'summary', 'test result: FAILED. 1 passed; 1 failed'],
      ['cargo test', 'package', 'error: test failed, to rerun'],
    ],
  },
  {
    name: 'rustc / cargo build errors',
    text: `   Compiling queue v0.1.0 (/home/dev/queue)
error[E0308]: mismatched types
 --> src/main.rs:4:18
  |
4 |     let n: u32 = "seven";
  |            ---   ^^^^^^^ expected \`u32\`, found \`&str\`
  |            |
  |            expected due to this

For more information about this error, try \`rustc --explain E0308\`.
error: could not compile \`queue\` (bin "queue") due to 1 previous error`,
    want: [
      ['rustc', 'compile', 'error[E0308]: mismatched types'],
      ['cargo', 'package', 'error: could not compile `queue`'],
    ],
  },
  {
    name: 'tsc: both report styles and the count',
    text: `src/queue.ts(12,5): error TS2322: Type 'string' is not assignable to type 'number'.
src/cache.ts:3:10 - error TS2305: Module '"./store"' has no exported member 'Store'.

3 import { Store } from './store';
           ~~~~~

Found 2 errors in 2 files.

Errors  Files
     1  src/cache.ts:3
     1  src/queue.ts:12`,
    want: [
      ['tsc', 'compile', "src/queue.ts(12,5): error TS2322: Type 'string'"],
      ['tsc', 'compile', 'src/cache.ts:3:10 - error TS2305'],
      ['tsc', 'summary', 'Found 2 errors in 2 files.'],
    ],
  },
  {
    name: 'eslint: error lines and the problem count; warnings are not failures',
    text: `/home/dev/queue/src/queue.js
  12:7   error    'unused' is assigned a value but never used  no-unused-vars
  20:1   warning  Unexpected console statement                 no-console

✖ 2 problems (1 error, 1 warning)
  0 errors and 1 warning potentially fixable with the \`--fix\` option.`,
    want: [
      ['eslint', 'lint', "12:7 error 'unused' is assigned"],
      ['eslint', 'summary', '✖ 2 problems (1 error, 1 warning)'],
    ],
  },
  {
    name: 'gcc and clang: errors, fatal errors, the linker',
    text: `main.c: In function 'main':
main.c:5:3: error: 'count' undeclared (first use in this function)
    5 |   count++;
      |   ^~~~~
main.c:1:10: fatal error: queue.h: No such file or directory
queue.c:9:12: error: use of undeclared identifier 'drain'
/usr/bin/ld: main.o: in function \`main':
main.c:(.text+0x1e): undefined reference to \`drain_all'
collect2: error: ld returned 1 exit status
make: *** [Makefile:4: queue] Error 1`,
    want: [
      ['gcc/clang', 'compile', "main.c:5:3: error: 'count' undeclared"],
      ['gcc/clang', 'compile', 'main.c:1:10: fatal error: queue.h'],
      ['gcc/clang', 'compile', "queue.c:9:12: error: use of undeclared identifier 'drain'"],
      ['gcc/clang', 'compile', 'collect2: error: ld returned 1 exit status'],
      ['make', 'package', 'make: *** [Makefile:4: queue] Error 1'],
    ],
  },
  {
    name: 'node: TypeError with its stack; ERR_MODULE_NOT_FOUND',
    text: `/home/dev/queue/src/drain.js:14
  return q.items.length;
                 ^

TypeError: Cannot read properties of undefined (reading 'length')
    at drain (/home/dev/queue/src/drain.js:14:18)
    at file:///home/dev/queue/src/main.js:3:1
    at ModuleJob.run (node:internal/modules/esm/module_job:234:25)

Node.js v22.14.0
node:internal/process/promises:394
    triggerUncaughtException(err, true /* fromPromise */);
    ^

[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason "boom".] {
  code: 'ERR_UNHANDLED_REJECTION'
}
node:internal/modules/esm/resolve:839
  throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);
        ^

Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'left-pad' imported from /home/dev/queue/src/main.js`,
    want: [
      ['node', 'runtime', "TypeError: Cannot read properties of undefined (reading 'length')"],
      ['node', 'runtime', '[UnhandledPromiseRejection: This error originated'],
      ['node', 'runtime', "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'left-pad'"],
    ],
  },
  {
    name: 'python: Traceback and the exception',
    text: `Traceback (most recent call last):
  File "/home/dev/q/main.py", line 12, in <module>
    main()
  File "/home/dev/q/main.py", line 9, in main
    print(totals["queue"])
          ~~~~~~^^^^^^^^^
KeyError: 'queue'`,
    want: [
      ['python', 'runtime', 'Traceback (most recent call last):'],
      ['python', 'runtime', "KeyError: 'queue'"],
    ],
  },
  {
    name: 'python: ModuleNotFoundError; TypeError named by the Traceback',
    text: `Traceback (most recent call last):
  File "/home/dev/q/run.py", line 1, in <module>
    import requests
ModuleNotFoundError: No module named 'requests'
TypeError: unsupported operand type(s) for +: 'int' and 'str'`,
    want: [
      ['python', 'runtime', 'Traceback (most recent call last):'],
      ['python', 'runtime', "ModuleNotFoundError: No module named 'requests'"],
      ['python', 'runtime', 'TypeError: unsupported operand type(s)'],
    ],
  },
  {
    name: 'npm: the ERR! lines that say something, not the log pointers',
    text: `> queue@1.0.0 test
> vitest run

npm ERR! code ELIFECYCLE
npm ERR! errno 1
npm ERR! queue@1.0.0 test: \`vitest run\`
npm ERR! Exit status 1
npm ERR!
npm ERR! This is probably not a problem with npm. There is likely additional logging output above.

npm ERR! A complete log of this run can be found in: /home/dev/.npm/_logs/2026-11-29T14_32_05_120Z-debug-0.log
npm error Missing script: "tset"`,
    want: [
      ['npm', 'package', 'npm ERR! code ELIFECYCLE'],
      ['npm', 'package', 'npm ERR! errno 1'],
      ['npm', 'package', 'npm ERR! queue@1.0.0 test'],
      ['npm', 'package', 'npm ERR! Exit status 1'],
      ['npm', 'package', 'npm error Missing script: "tset"'],
    ],
  },
  {
    name: 'pip, yarn, pnpm',
    text: `ERROR: Could not find a version that satisfies the requirement reqeusts (from versions: none)
ERROR: No matching distribution found for reqeusts
error Command failed with exit code 1.
 ERR_PNPM_NO_SCRIPT  Missing script: tset`,
    want: [
      ['pip', 'package', 'ERROR: Could not find a version'],
      ['pip', 'package', 'ERROR: No matching distribution'],
      ['yarn', 'package', 'error Command failed with exit code 1.'],
      ['pnpm', 'package', 'ERR_PNPM_NO_SCRIPT Missing script: tset'],
    ],
  },
  {
    name: 'java and the JVM build tools; git',
    text: `Exception in thread "main" java.lang.NullPointerException: Cannot invoke "Queue.drain()" because "q" is null
[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:3.2.5:test
BUILD FAILED in 3s
fatal: not a git repository (or any of the parent directories): .git`,
    want: [
      ['java', 'runtime', 'Exception in thread "main"'],
      ['maven', 'package', '[ERROR] Failed to execute goal'],
      ['gradle', 'package', 'BUILD FAILED in 3s'],
      ['generic', 'error', 'fatal: not a git repository'],
    ],
  },
];

/** Output that reports success, and code on screen that names errors: no failure lines. */
const NEGATIVES: [string, string][] = [
  ['vitest all green', ' ✓ src/queue.test.ts (12 tests) 41ms\n\n Test Files  3 passed (3)\n      Tests  12 passed (12)\n Tests  0 failed | 12 passed'],
  ['jest all green', 'PASS src/cache.test.js\nTest Suites: 4 passed, 4 total\nTests:       21 passed, 21 total'],
  ['mocha all green', '  2 passing (8ms)\n  0 failing'],
  ['pytest all green', '============================== 12 passed in 0.10s ===============================\n== 12 passed, 0 failed, 0 errors in 0.1s =='],
  ['go test all green', '--- PASS: TestDrain (0.00s)\nPASS\nok  \tgithub.com/dev/queue\t0.004s'],
  ['cargo test all green', 'test tests::drains ... ok\n\ntest result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out'],
  ['tsc watch clean', '[14:32:05] Found 0 errors. Watching for file changes.\nFound 0 errors.'],
  ['eslint warnings only', '  20:1  warning  Unexpected console statement  no-console\n\n✖ 1 problem (0 errors, 1 warning)'],
  ['no errors / no problems', 'Compiled successfully: no errors\nNo problems found.\nno failures'],
  ['npm noise only', 'npm ERR!\nnpm ERR! A complete log of this run can be found in: /tmp/x.log'],
  [
    'source code in an editor that names errors',
    `try {\n  drain(q);\n} catch (err) {\n  throw new TypeError('queue is empty');\n}\nconst state = { error: null, failed: 0 };\n  error: null,\n  error: 'none',\nexcept ValueError as e:\n    raise KeyError(name) from e\nif err != nil { return fmt.Errorf("drain: %w", err) }`,
  ],
  ['prose', 'The errors page lists failed uploads.\nRetry on error, give up after 3 failures.\nHandle every Error case gracefully.'],
  ['DeprecationWarning is not a failure', '(node:1234) DeprecationWarning: Buffer() is deprecated'],
];

describe('failureLines', () => {
  for (const c of CASES) {
    it(`finds the failure lines of ${c.name}`, () => {
      const got = failureLines(c.text).map((f) => [f.tool, f.kind, f.line]);
      expect(got.length, JSON.stringify(got, null, 1)).toBe(c.want.length);
      c.want.forEach(([tool, kind, start], i) => {
        expect(got[i]?.[0], `line ${i}: ${got[i]?.[2]}`).toBe(tool);
        expect(got[i]?.[1], `line ${i}: ${got[i]?.[2]}`).toBe(kind);
        expect(String(got[i]?.[2]).startsWith(start), `line ${i}: ${got[i]?.[2]}`).toBe(true);
      });
    });
  }

  for (const [name, text] of NEGATIVES) {
    it(`finds nothing in ${name}`, () => {
      expect(failureLines(text)).toEqual([]);
    });
  }

  it('every tool of the list has a case in the corpus', () => {
    const covered = new Set(CASES.flatMap((c) => failureLines(c.text).map((f) => f.tool)));
    const tools = new Set(FAILURE_PATTERNS.map((p) => p.tool).filter((t) => t !== 'exception'));
    expect([...tools].filter((t) => !covered.has(t))).toEqual([]);
  });

  it('every pattern of the list is exercised by a line of the corpus', () => {
    const lines = CASES.flatMap((c) => c.text.split('\n').map((l) => l.replace(/[\s\u00a0]+/g, ' ').trim()));
    const unused = FAILURE_PATTERNS.filter((p) => !lines.some((l) => p.re.test(l))).map((p) => `${p.tool}: ${p.re.source}`);
    expect(unused).toEqual([]);
  });

  it('reads terminal output with colours and carriage returns, and OCR text with stray blanks', () => {
    const tty = '\x1b[31m\x1b[1m FAIL \x1b[22m\x1b[39m src/q.test.ts \x1b[2m>\x1b[22m drains\r\n\x1b[31mAssertionError\x1b[39m: expected 7 to equal 9\r\n';
    expect(failureLines(tty).map((f) => f.kind)).toEqual(['test', 'assertion']);
    const ocr = '  FAIL   src/q.test.ts  >  drains  in  order\u00a0\n';
    expect(failureLines(ocr)[0]?.line).toBe('FAIL src/q.test.ts > drains in order');
  });

  it('is bounded and total on any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3000 }), fc.array(fc.constantFrom(...CASES.map((c) => c.text)), { maxLength: 3 }), (noise, parts) => {
        const text = [noise, ...parts].join('\n');
        const lines = text.split(/\r\n|\r|\n/);
        for (const f of failureLines(text)) {
          expect(f.line.length).toBeLessThanOrEqual(MAX_LINE_CHARS);
          expect(f.line).not.toMatch(/\n/);
          expect(lines[f.index]?.replace(/[\s\u00a0]+/g, ' ')).toContain(f.line.slice(0, 40).trim());
        }
      }),
      { numRuns: 200 },
    );
    const huge = `${'x'.repeat(200_000)}\nTypeError: boom\n${'(a'.repeat(50_000)}`;
    const t0 = performance.now();
    expect(failureLines(huge).map((f) => f.line)).toEqual(['TypeError: boom']);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('keys ignore timings, case and blanks, so one failure seen twice is one', () => {
    expect(failureKey('--- FAIL: TestDrain (0.00s)')).toBe(failureKey('--- FAIL:  TestDrain (0.31s)'));
    expect(failureKey('× Queue > drains in order 9ms')).toBe(failureKey('× Queue > drains in order 12ms'));
    expect(failureKey('AssertionError: expected 7 to equal 9')).not.toBe(failureKey('AssertionError: expected 7 to equal 8'));
  });
});
