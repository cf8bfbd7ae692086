/**
 * docs/grafana/frames-gateway.json only queries what the gateway exposes: every PromQL expression of the dashboard
 * (panels and template variables) is parsed with Prometheus' own grammar, and each metric it selects, each literal
 * label value it matches and each label it groups by must appear in a real gateway's `/metrics`.
 */
import { readFile } from 'node:fs/promises';
import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { scrapeMetrics, type Sample } from '../helpers/metrics.js';

const DASHBOARD = new URL('../../docs/grafana/frames-gateway.json', import.meta.url);
// Added by Prometheus at scrape time, not by the exporter.
const TARGET_LABELS = new Set(['job', 'instance']);

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

interface Selector {
  metric: string;
  matchers: { label: string; op: string; value: string }[];
}

interface ParsedExpr {
  selectors: Selector[];
  groupingLabels: string[];
  errors: string[];
}

function dashboardExprs(dashboard: { panels: Panel[]; templating: { list: { query?: unknown }[] } }): string[] {
  const fromPanels = (panels: Panel[]): string[] =>
    panels.flatMap((p) => [...(p.targets ?? []).map((t) => t.expr ?? ''), ...fromPanels(p.panels ?? [])]);
  const variables = dashboard.templating.list
    .map((v) => (typeof v.query === 'object' && v.query !== null ? (v.query as { query: string }).query : ''))
    .map((query) => /^label_values\((.*),\s*\w+\)$/.exec(query)?.[1] ?? '')
    .filter((q) => q !== '');
  return [...fromPanels(dashboard.panels), ...variables];
}

/** Grafana's interval variables become a real duration, so the expression is plain PromQL. */
function parsePromQL(grafanaExpr: string): ParsedExpr {
  const expr = grafanaExpr.replace(/\$__(rate_interval|interval|range)/g, '5m');
  const text = (node: SyntaxNode) => expr.slice(node.from, node.to);
  const parsed: ParsedExpr = { selectors: [], groupingLabels: [], errors: [] };
  parser.parse(expr).iterate({
    enter(ref) {
      if (ref.type.isError) parsed.errors.push(`syntax error at ${ref.from} in ${expr}`);
      if (ref.name === 'GroupingLabels') parsed.groupingLabels.push(...ref.node.getChildren('LabelName').map(text));
      if (ref.name !== 'VectorSelector') return;
      const matchers = (ref.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []).map((m) => ({
        label: text(m.getChild('LabelName')!),
        op: text(m.getChild('MatchOp')!),
        value: JSON.parse(text(m.getChild('StringLiteral')!)) as string,
      }));
      parsed.selectors.push({ metric: text(ref.node.getChild('Identifier')!), matchers });
    },
  });
  return parsed;
}

let fake: FakeUpstream;
let gw: TestGateway;
let samples: Sample[];

beforeAll(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  gw = await startTestGateway({ upstreamUrl: fake.url });
  // GraphQL series appear with their first operation: a query, a refused one, and a subscription.
  await gw.graphql('{ __typename }');
  await gw.graphql('{ noSuchField }');
  const sub = gw.subscribeWs('subscription { frameExtractionTask(id: "0123456789abcdef0123456789abcdef") { id } }');
  await sub.completed.catch(() => undefined);
  samples = (await scrapeMetrics(gw.url)).samples;
});
afterAll(async () => {
  await gw.close();
  await fake.close();
});

describe('Grafana dashboard', () => {
  it('parses every PromQL expression and selects only metrics, label values and labels /metrics exposes', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8'));
    const exprs = dashboardExprs(dashboard);
    expect(exprs.length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const expr of exprs) {
      const { selectors, groupingLabels, errors } = parsePromQL(expr);
      problems.push(...errors);
      if (selectors.length === 0) problems.push(`no metric in ${expr}`);
      const labelsInExpr = new Set<string>(['le', ...TARGET_LABELS]);
      for (const { metric, matchers } of selectors) {
        const series = samples.filter((s) => s.name === metric);
        if (series.length === 0) problems.push(`${metric} is not exposed (in ${expr})`);
        for (const s of series) for (const label of Object.keys(s.labels)) labelsInExpr.add(label);
        for (const { label, op, value } of matchers) {
          if (TARGET_LABELS.has(label)) continue;
          const known = series.some((s) => label in s.labels && (op !== '=' || s.labels[label] === value));
          if (!known) problems.push(`${metric} has no series with ${label}${op}"${value}"`);
        }
      }
      for (const label of groupingLabels) if (!labelsInExpr.has(label)) problems.push(`"by (${label})" matches no label in ${expr}`);
    }
    expect(problems).toEqual([]);
  });

  it('covers the panels the runbook needs', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8'));
    const metrics = new Set(dashboardExprs(dashboard).flatMap((e) => parsePromQL(e).selectors.map((s) => s.metric)));
    for (const metric of [
      'frames_upstream_requests_total',
      'frames_upstream_queue_wait_seconds_bucket',
      'frames_upstream_queue_depth',
      'frames_tasks_total',
      'frames_tasks_pending',
      'frames_webhook_deliveries_total',
      'frames_callback_to_publish_seconds_bucket',
      'frames_subscriptions_active',
      'frames_media_requests_total',
    ]) {
      expect(metrics, metric).toContain(metric);
    }
  });
});
