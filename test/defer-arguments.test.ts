/**
 * `@defer`/`@stream` arguments a hostile caller may send: a negative or null `initialCount`
 * (literal, variable, or a variable's default) and an oversized `label` are refused before
 * anything runs, with a code, never answered as an internal error; valid values still stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEXT_LIMITS } from '../src/db/limits.js';
import { fetchPayloads, mergePayloads } from './helpers/incremental.js';
import { type InProcessGateway, removeTempDirs, startInProcessGateway } from './helpers/server.js';

let gateway: InProcessGateway;

beforeAll(async () => {
  gateway = await startInProcessGateway({});
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
  removeTempDirs();
});

const streamed = (count: string, variables = '') => `query${variables} {
  chip(slug: "h200") {
    policyDecisions(first: 3) { edges @stream(initialCount: ${count}) { node { slug } } }
  }
}`;

/** The status and the first error's code and message of a request. */
async function refusal(query: string, variables?: Record<string, unknown>) {
  const { status, payloads } = await fetchPayloads(gateway.url, query, {
    ...(variables ? { variables } : {}),
  });
  const error = (payloads[0] as { errors?: { message: string; extensions?: { code?: string } }[] })
    .errors?.[0];
  return { status, code: error?.extensions?.code, message: error?.message, payloads };
}

describe('@stream(initialCount:)', () => {
  it('refuses a negative or null literal in validation (BAD_USER_INPUT, 400)', async () => {
    for (const literal of ['-1', 'null']) {
      const { status, code, message } = await refusal(streamed(literal));
      expect({ literal, status, code }).toEqual({
        literal,
        status: 400,
        code: 'BAD_USER_INPUT',
      });
      expect(message).toContain('initialCount');
    }
  });

  it('refuses a negative or null variable, or such a default, with BAD_USER_INPUT and 400', async () => {
    for (const [variables, value] of [
      ['($n: Int)', { n: -5 }],
      ['($n: Int)', { n: null }],
      ['($n: Int = -2)', undefined],
    ] as const) {
      const { status, code, message, payloads } = await refusal(
        streamed('$n', variables),
        value as Record<string, unknown> | undefined,
      );
      expect({ variables, status, code }).toEqual({
        variables,
        status: 400,
        code: 'BAD_USER_INPUT',
      });
      expect(message).toMatch(/initialCount:\) must be an integer of 0 or more/);
      expect(payloads).toHaveLength(1);
    }
  });

  it('streams with a valid variable: 1 edge first, all 3 in the end', async () => {
    const { status, payloads } = await fetchPayloads(gateway.url, streamed('$n', '($n: Int)'), {
      variables: { n: 1 },
    });
    expect(status).toBe(200);
    const first = payloads[0] as {
      data: { chip: { policyDecisions: { edges: unknown[] } } };
    };
    expect(first.data.chip.policyDecisions.edges).toHaveLength(1);
    const merged = mergePayloads(payloads) as {
      data: { chip: { policyDecisions: { edges: unknown[] } } };
    };
    expect(merged.data.chip.policyDecisions.edges).toHaveLength(3);
  });
});

describe('if:', () => {
  it('refuses a null variable with BAD_USER_INPUT and 400, like any bad variable', async () => {
    const query = `query($d: Boolean) { chip(slug: "h200") { name ... @defer(if: $d) { slug } } }`;
    const { status, code, message } = await refusal(query, { d: null });
    expect({ status, code }).toEqual({ status: 400, code: 'BAD_USER_INPUT' });
    expect(message).toContain('@defer(if:)');
    const deferred = await fetchPayloads(gateway.url, query, { variables: { d: true } });
    expect(deferred.payloads.length).toBeGreaterThan(1);
    expect(mergePayloads(deferred.payloads)).toMatchObject({
      data: { chip: { name: 'NVIDIA H200 (SXM)', slug: 'h200' } },
    });
  });
});

describe('label:', () => {
  it(`refuses a label past ${TEXT_LIMITS.shortText} characters, admits one at the limit`, async () => {
    const query = (length: number) => `{
      chip(slug: "h200") { name ... @defer(label: "${'x'.repeat(length)}") { slug } }
    }`;
    const over = await refusal(query(TEXT_LIMITS.shortText + 1));
    expect({ status: over.status, code: over.code }).toEqual({
      status: 400,
      code: 'BAD_USER_INPUT',
    });
    expect(over.message).toContain('label');
    const at = await fetchPayloads(gateway.url, query(TEXT_LIMITS.shortText));
    expect(at.status).toBe(200);
    expect(mergePayloads(at.payloads)).toMatchObject({
      data: { chip: { name: 'NVIDIA H200 (SXM)', slug: 'h200' } },
    });
  });
});
