// The monitoring API's queries, and the chart rows made from its answers.
// Every field may be missing (no data yet, or an older server): each helper
// returns an empty list rather than failing.
import { api } from "../../api/client";
import type { Dashboard, Metrics, TraceDetail, TraceSummary, Span } from "../../api/types";

export const AGENT_LABEL: Record<string, string> = {
  gateway: "Gateway",
  intent_agent: "Intent agent",
  support_agent: "Support agent",
  escalation: "Escalation",
};

export const PALETTE = ["#4f46e5", "#0891b2", "#d97706", "#db2777", "#059669", "#7c3aed", "#dc2626", "#65a30d"];

export const SERIES_COLOR = {
  chats: "#4f46e5",
  escalations: "#d97706",
  errors: "#dc2626",
};

export function agentLabel(k: string): string {
  return AGENT_LABEL[k] ?? k.replace(/[_-]/g, " ");
}

export const fetchMetrics = (signal?: AbortSignal) => api<Metrics>("/api/monitoring/metrics", { signal });

export const fetchDashboard = (windowS: number, stepS: number, signal?: AbortSignal) =>
  api<Dashboard>("/api/monitoring/dashboard", { query: { window: windowS, step: stepS }, signal });

export interface TraceFilters {
  status: "" | "ok" | "error";
  minDurationMs: string;
  limit: number;
}

export const fetchTraces = (f: TraceFilters, signal?: AbortSignal) =>
  api<{ traces?: TraceSummary[] }>("/api/monitoring/traces", {
    query: {
      status: f.status || undefined,
      min_duration_ms: f.minDurationMs.trim() || undefined,
      limit: f.limit,
    },
    signal,
  });

export const fetchTrace = (id: string, signal?: AbortSignal) =>
  api<TraceDetail>(`/api/monitoring/traces/${encodeURIComponent(id)}`, { signal });

/** A step that gives about 60 points over the window. */
export function stepFor(windowS: number): number {
  return Math.max(10, Math.round(windowS / 60));
}

export interface NameValue {
  name: string;
  key: string;
  value: number;
  confidence?: number;
}

export function intentRows(m?: Metrics, d?: Dashboard): NameValue[] {
  const dist = m?.intents?.distribution ?? d?.intents ?? {};
  const conf = m?.intents?.avg_confidence ?? {};
  return Object.entries(dist)
    .filter(([, v]) => typeof v === "number" && v > 0)
    .map(([k, v]) => ({ key: k, name: k.charAt(0).toUpperCase() + k.slice(1), value: v, confidence: conf[k] }))
    .sort((a, b) => b.value - a.value);
}

export interface LatencyRow {
  agent: string;
  name: string;
  p50?: number;
  p95?: number;
  p99?: number;
}

export function latencyRows(m?: Metrics): LatencyRow[] {
  return Object.entries(m?.agent_performance ?? {})
    .filter(([, a]) => a && (a.p50_ms !== undefined || a.p95_ms !== undefined || a.p99_ms !== undefined))
    .map(([k, a]) => ({ agent: k, name: agentLabel(k), p50: a.p50_ms, p95: a.p95_ms, p99: a.p99_ms }));
}

export interface SeriesRow {
  t: number;
  chats: number;
  escalations: number;
  errors: number;
  [latency: `p95_${string}`]: number;
}

export function seriesRows(d?: Dashboard): { rows: SeriesRow[]; agents: string[] } {
  const agents = new Set<string>();
  const rows = (d?.series ?? [])
    .filter((p) => p && typeof p.t === "number")
    .map((p) => {
      const row: SeriesRow = { t: p.t, chats: p.chats ?? 0, escalations: p.escalations ?? 0, errors: p.errors ?? 0 };
      for (const [k, v] of Object.entries(p.latency_p95_ms ?? {})) {
        if (typeof v === "number") {
          agents.add(k);
          row[`p95_${k}`] = v;
        }
      }
      return row;
    })
    .sort((a, b) => a.t - b.t);
  return { rows, agents: [...agents] };
}

export function hasActivity(rows: SeriesRow[]): boolean {
  return rows.some((r) => r.chats || r.escalations || r.errors);
}

export interface FlatSpan {
  span: Span;
  depth: number;
}

/** The span tree, depth first, children by start time. */
export function flattenSpans(roots: Span[] = []): FlatSpan[] {
  const out: FlatSpan[] = [];
  const walk = (s: Span, depth: number) => {
    out.push({ span: s, depth });
    [...(s.children ?? [])]
      .sort((a, b) => (a.start_ms ?? 0) - (b.start_ms ?? 0))
      .forEach((c) => walk(c, depth + 1));
  };
  [...roots].sort((a, b) => (a.start_ms ?? 0) - (b.start_ms ?? 0)).forEach((r) => walk(r, 0));
  return out;
}

/** The time the trace covers: earliest start to latest end. */
export function traceBounds(flat: FlatSpan[]): { start: number; end: number } {
  let start = Infinity;
  let end = -Infinity;
  for (const { span } of flat) {
    const s = span.start_ms ?? 0;
    start = Math.min(start, s);
    end = Math.max(end, s + (span.duration_ms ?? 0));
  }
  if (!Number.isFinite(start)) return { start: 0, end: 1 };
  return { start, end: Math.max(end, start + 1) };
}
