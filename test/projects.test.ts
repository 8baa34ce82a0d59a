/**
 * The rule that sorts test files into the `unit` and `e2e` vitest projects (test/projects.ts),
 * checked on this repository's own test files and on sources written for the purpose.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { e2eTestFiles, importsOf, isE2e } from './projects.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('test projects', () => {
  it('reads static imports, multi-line and type-only ones included', () => {
    const source = `import { a,\n  b } from './helpers/gateway.js';\nimport type { X } from "ws";\nconst s = "from 'node:net'";\n`;
    expect(importsOf(source)).toEqual(['./helpers/gateway.js', 'ws']);
  });

  it('puts a file that starts a socket, a process or a browser in e2e, an in-process one in unit', () => {
    expect(isE2e(`import { startInProcessGateway } from './helpers/server.js';`)).toBe(true);
    expect(isE2e(`import { spawn } from 'node:child_process';`)).toBe(true);
    expect(isE2e(`import { chromium } from 'playwright-core';`)).toBe(true);
    expect(isE2e(`import { createTestGateway } from './helpers/gateway.js';`)).toBe(false);
    expect(isE2e(`import { startUpstream } from './helpers/upstream.js';`)).toBe(false);
  });

  it('sorts every test file of this repository, both projects non-empty', () => {
    const all = readdirSync(new URL('.', import.meta.url), {
      recursive: true,
      encoding: 'utf8',
    }).filter((file) => file.endsWith('.test.ts'));
    const e2e = e2eTestFiles(root);
    expect(e2e).toContain('test/process.test.ts');
    expect(e2e).toContain('test/graphiql.test.ts');
    expect(e2e).not.toContain('test/auth.test.ts');
    expect(e2e).not.toContain('test/projects.test.ts');
    expect(e2e.length).toBeGreaterThan(0);
    expect(all.length - e2e.length).toBeGreaterThan(0);
    // Every file imports something the rule can read: vitest, or a helper exporting a `test`
    // built on vitest's (the fixtures', or one extending them).
    const providesTest = (specifier: string) =>
      specifier.startsWith('./helpers/') &&
      /^export const test\b/m.test(
        readFileSync(new URL(specifier.replace(/\.js$/, '.ts'), import.meta.url), 'utf8'),
      );
    for (const file of all) {
      const imports = importsOf(readFileSync(new URL(file, import.meta.url), 'utf8'));
      expect(
        imports.filter((name) => name === 'vitest' || providesTest(name)),
        file,
      ).not.toEqual([]);
    }
  });
});
