/**
 * The H200 story, as the seed data tells it: chip, decisions with effects and history,
 * signals, and the export status worked examples of api.md.
 */
import { afterAll } from 'vitest';
import { STORY_QUERY } from '../src/story.js';
import { describe, expect, test } from './helpers/fixtures.js';
import { createTestGateway, type TestGateway } from './helpers/gateway.js';

let resolvers: TestGateway | undefined;
afterAll(async () => {
  await resolvers?.close();
});

/** A gateway on the old read path (every field by its resolver), opened on first use. */
async function resolverGateway(): Promise<TestGateway> {
  resolvers ??= await createTestGateway({ planner: 'off' });
  return resolvers;
}

const H200 = /* GraphQL */ `
  query H200 {
    chip(slug: "h200") {
      slug
      designer { slug }
      derivedFrom { slug }
      policyDecisions(first: 50) {
        totalCount
        edges {
          effect
          node {
            slug jurisdiction status announcedOn revenueSharePercent
            updates { fromStatus toStatus occurredAt }
          }
        }
      }
      demandSignals(first: 50) {
        edges { node { slug kind companies { slug } } }
      }
    }
  }
`;

describe('the H200 story', () => {
  test('names the designer and the decisions with their effect, status and history', async ({
    gateway,
  }) => {
    const { data, errors } = await gateway.execute(H200);
    expect(errors).toBeUndefined();
    const chip = data.chip;
    expect(chip.designer.slug).toBe('nvidia');
    expect(chip.derivedFrom.slug).toBe('h100');
    const bySlug = new Map<string, any>(
      chip.policyDecisions.edges.map((e: any) => [e.node.slug, e]),
    );

    const approval = bySlug.get('us-whitehouse-2025-12-08-h200-approval');
    expect(approval).toMatchObject({
      effect: 'PERMITTED_WITH_CONDITIONS',
      node: {
        jurisdiction: 'US',
        status: 'APPROVED',
        announcedOn: '2025-12-08',
        revenueSharePercent: 25,
      },
    });

    const deliberation = bySlug.get('cn-2025-12-09-h200-import-deliberation');
    expect(deliberation.node.jurisdiction).toBe('CN');
    expect(deliberation.node.status).toBe('SUPERSEDED');
    expect(deliberation.node.updates).toEqual([
      { fromStatus: null, toStatus: 'UNDER_REVIEW', occurredAt: '2025-12-09T00:00:00.000Z' },
      {
        fromStatus: 'UNDER_REVIEW',
        toStatus: 'SUPERSEDED',
        occurredAt: '2026-01-13T00:00:00.000Z',
      },
    ]);

    expect(bySlug.get('cn-2026-01-28-h200-first-batch-approved')?.node).toMatchObject({
      jurisdiction: 'CN',
      status: 'APPROVED',
    });
    expect(chip.policyDecisions.totalCount).toBe(chip.policyDecisions.edges.length);
    // Newest announcement first, ties by slug descending.
    const order = chip.policyDecisions.edges.map((e: any) => [e.node.announcedOn, e.node.slug]);
    const sorted = [...order].sort((a, b) =>
      a[0] === b[0] ? (a[1] < b[1] ? 1 : -1) : a[0] < b[0] ? 1 : -1,
    );
    expect(order).toEqual(sorted);
  });

  test('lists the demand signals about the chip with the companies they name', async ({
    gateway,
  }) => {
    const { data } = await gateway.execute(H200);
    const signals = new Map<string, any>(
      data.chip.demandSignals.edges.map((e: any) => [e.node.slug, e.node]),
    );
    expect(signals.get('ds-2025-12-10-bytedance-alibaba-h200-interest')).toEqual({
      slug: 'ds-2025-12-10-bytedance-alibaba-h200-interest',
      kind: 'INTEREST',
      companies: [{ slug: 'bytedance' }, { slug: 'alibaba' }],
    });
    expect(signals.get('ds-2026-01-28-h200-400k-approved')).toMatchObject({
      kind: 'ORDER',
      companies: [{ slug: 'bytedance' }, { slug: 'alibaba' }, { slug: 'tencent' }],
    });
  });

  test.for([
    [
      '2025-12-10',
      'PERMITTED_WITH_CONDITIONS',
      'us-whitehouse-2025-12-08-h200-approval',
      'RESTRICTED',
      'cn-2025-11-05-state-funded-dc-domestic-chips',
    ],
    [
      '2026-01-20',
      'PERMITTED_WITH_CONDITIONS',
      'us-whitehouse-2026-01-14-proclamation-11002',
      'BANNED',
      'cn-customs-2026-01-13-h200-not-permitted',
    ],
    [
      '2026-02-01',
      'PERMITTED_WITH_CONDITIONS',
      'us-whitehouse-2026-01-14-proclamation-11002',
      'PERMITTED_WITH_CONDITIONS',
      'cn-2026-01-28-h200-first-batch-approved',
    ],
  ])(
    'exportStatus of H200 US->CN as of %s',
    async ([asOf, exportEffect, exportDecision, importEffect, importDecision], { gateway }) => {
      const { data, errors } = await gateway.execute(
        /* GraphQL */ `query ($asOf: Date) {
        chip(slug: "h200") {
          exportStatus(asOf: $asOf) {
            chip { slug } from to asOf
            exportEffect exportDecision { slug }
            importEffect importDecision { slug }
          }
        }
      }`,
        { asOf },
      );
      expect(errors).toBeUndefined();
      expect(data.chip.exportStatus).toEqual({
        chip: { slug: 'h200' },
        from: 'US',
        to: 'CN',
        asOf,
        exportEffect,
        exportDecision: { slug: exportDecision },
        importEffect,
        importDecision: { slug: importDecision },
      });
    },
  );

  test('says null when no decision is in force (before any H200 decision)', async ({ gateway }) => {
    const { data } = await gateway.execute(/* GraphQL */ `{
      chip(slug: "h200") { exportStatus(asOf: "2020-01-01") { exportEffect exportDecision { slug } importEffect importDecision { slug } } }
    }`);
    expect(data.chip.exportStatus).toEqual({
      exportEffect: null,
      exportDecision: null,
      importEffect: null,
      importDecision: null,
    });
  });

  test.for([
    // Planned: the chips page with every chip's two export statuses, one statement.
    ['planned', 1],
    // Resolvers: the chips page (1) + one export-status statement per asOf (2).
    ['resolvers', 3],
  ] as const)(
    'answers exportStatus for many chips with a fixed number of statements (%s)',
    async ([path, statements], { gateway }) => {
      const target = path === 'planned' ? gateway : await resolverGateway();
      target.statements.reset();
      const { data, errors } = await target.execute(/* GraphQL */ `{
      chips(first: 50) { edges { node { slug a: exportStatus(asOf: "2026-01-20") { exportEffect } b: exportStatus(asOf: "2025-06-01") { exportEffect } } } }
    }`);
      expect(errors).toBeUndefined();
      const h20 = data.chips.edges.find((e: any) => e.node.slug === 'h20').node;
      // H20 on 2025-06-01: the April 2025 license requirement was in force.
      expect(h20.b.exportEffect).toBe('LICENSE_REQUIRED');
      expect(target.statements.count).toBe(statements);
    },
  );

  test('serves the GraphiQL story query within the default limits, with the real facts', async ({
    gateway,
  }) => {
    const { data, errors } = await gateway.execute(STORY_QUERY);
    expect(errors).toBeUndefined();
    expect(data.chip.blocked.importEffect).toBe('BANNED');
    expect(data.chip.approved.importDecision.slug).toBe('cn-2026-01-28-h200-first-batch-approved');
    expect(data.timeline.edges.length).toBeGreaterThan(10);
  });
});
