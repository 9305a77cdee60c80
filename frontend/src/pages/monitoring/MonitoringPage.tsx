// The admin's monitoring dashboard: health, deflection, queue health,
// intents, latency per agent, activity over time and recent traces,
// refreshed on an interval the admin picks.
import { useState } from "react";
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "react-router";
import { ApiError, friendlyError } from "../../api/client";
import type { Metrics } from "../../api/types";
import { Alert, Badge, Button, Card, EmptyState, PageHeader, SelectField, Spinner, TableWrap, TextField } from "../../components/ui";
import { formatAge, formatDateTime, formatMs, formatNumber, formatPercent } from "../../lib/format";
import { ActivityChart, Gauge, IntentChart, LatencyChart, LatencyOverTimeChart } from "./Charts";
import {
  agentLabel,
  fetchDashboard,
  fetchMetrics,
  fetchTraces,
  intentRows,
  latencyRows,
  seriesRows,
  stepFor,
  type TraceFilters,
} from "./data";

const WINDOWS = [
  { s: 900, label: "Last 15 minutes" },
  { s: 3600, label: "Last hour" },
  { s: 6 * 3600, label: "Last 6 hours" },
  { s: 86400, label: "Last 24 hours" },
];

const REFRESH = [
  { ms: 0, label: "Off" },
  { ms: 10_000, label: "Every 10 s" },
  { ms: 30_000, label: "Every 30 s" },
  { ms: 60_000, label: "Every minute" },
];

/** 404: the server has no monitoring API (yet); no point in retrying. */
const notThere = (e: unknown) => e instanceof ApiError && (e.status === 404 || e.status === 405);
const retry = (n: number, e: unknown) => !notThere(e) && n < 2;

export function MonitoringPage() {
  const qc = useQueryClient();
  const [windowS, setWindowS] = useState(3600);
  const [refreshMs, setRefreshMs] = useState(30_000);
  const interval = refreshMs || false;

  const metrics = useQuery({
    queryKey: ["monitoring", "metrics"],
    queryFn: ({ signal }) => fetchMetrics(signal),
    refetchInterval: interval,
    retry,
  });
  const dashboard = useQuery({
    queryKey: ["monitoring", "dashboard", windowS],
    queryFn: ({ signal }) => fetchDashboard(windowS, stepFor(windowS), signal),
    refetchInterval: interval,
    placeholderData: keepPreviousData,
    retry,
  });

  const unavailable = notThere(metrics.error) && notThere(dashboard.error);
  const m = metrics.data;
  const { rows, agents } = seriesRows(dashboard.data);
  const updated = Math.max(metrics.dataUpdatedAt, dashboard.dataUpdatedAt);

  return (
    <div className="monitoring">
      <PageHeader
        title="Monitoring"
        subtitle={updated ? `Updated ${new Date(updated).toLocaleTimeString()}` : undefined}
        actions={
          <div className="toolbar">
            <SelectField label="Time window" value={windowS} onChange={(e) => setWindowS(Number(e.target.value))}>
              {WINDOWS.map((w) => (
                <option key={w.s} value={w.s}>
                  {w.label}
                </option>
              ))}
            </SelectField>
            <SelectField label="Auto-refresh" value={refreshMs} onChange={(e) => setRefreshMs(Number(e.target.value))}>
              {REFRESH.map((r) => (
                <option key={r.ms} value={r.ms}>
                  {r.label}
                </option>
              ))}
            </SelectField>
            <Button
              variant="secondary"
              busy={metrics.isFetching || dashboard.isFetching}
              onClick={() => void qc.invalidateQueries({ queryKey: ["monitoring"] })}
            >
              Refresh
            </Button>
          </div>
        }
      />

      {unavailable ? (
        <Card>
          <EmptyState title="Monitoring data isn't available yet" icon="chart">
            This server does not offer the monitoring API yet. The dashboard fills in as soon as it does.
          </EmptyState>
        </Card>
      ) : (
        <>
          {metrics.isError && !notThere(metrics.error) && (
            <Alert tone="error">Metrics could not be loaded: {friendlyError(metrics.error)}</Alert>
          )}
          {dashboard.isError && !notThere(dashboard.error) && (
            <Alert tone="error">The time series could not be loaded: {friendlyError(dashboard.error)}</Alert>
          )}
          {metrics.isPending && <Spinner label="Loading metrics…" />}
          {m && <Overview m={m} />}

          <div className="grid-2">
            <Card title="Chats and escalations over time">
              {dashboard.isPending ? <Spinner /> : <ActivityChart rows={rows} windowS={windowS} />}
            </Card>
            <Card title="p95 latency over time">
              {dashboard.isPending ? <Spinner /> : <LatencyOverTimeChart rows={rows} agents={agents} windowS={windowS} />}
            </Card>
            <Card title="Intent distribution">
              {metrics.isPending && dashboard.isPending ? <Spinner /> : <IntentChart rows={intentRows(m, dashboard.data)} />}
            </Card>
            <Card title="Latency percentiles per agent">
              {metrics.isPending ? <Spinner /> : <LatencyChart rows={latencyRows(m)} />}
            </Card>
          </div>
          {m && <AgentTable m={m} />}
        </>
      )}
      <TracesCard />
    </div>
  );
}

function Stat({
  label,
  value,
  note,
  tone,
}: {
  label: string;
  value: React.ReactNode;
  note?: React.ReactNode;
  tone?: "good" | "bad";
}) {
  return (
    <div className={`stat ${tone ? `stat-${tone}` : ""}`}>
      <dt>{label}</dt>
      <dd>
        <span className="stat-value">{value}</span>
        {note && <span className="stat-note">{note}</span>}
      </dd>
    </div>
  );
}

function Overview({ m }: { m: Metrics }) {
  const h = m.system_health;
  const e = m.escalations ?? {};
  const services = Object.entries(h?.services ?? {});
  const blocks = Object.entries(m.guardrails?.blocks ?? {}).filter(([, n]) => n > 0);
  return (
    <div className="overview">
      <Card title="Deflection rate" className="card-gauge">
        <Gauge value={m.deflection_rate} label="Deflection rate" />
        <p className="muted center">Chats answered without a person</p>
      </Card>
      <Card title="Activity">
        <dl className="stats">
          <Stat label="Chats" value={formatNumber(m.chats)} />
          <Stat label="Escalations created" value={formatNumber(e.created)} />
          <Stat
            label="Reporting dropped"
            value={formatNumber(m.reporting?.dropped)}
            tone={m.reporting?.dropped ? "bad" : undefined}
            note="metric events lost"
          />
        </dl>
      </Card>
      <Card title="Queue health">
        <dl className="stats" data-testid="queue-health">
          <Stat label="Waiting" value={formatNumber(e.pending)} />
          <Stat label="Claimed" value={formatNumber(e.claimed)} />
          <Stat label="Resolved" value={formatNumber(e.resolved)} />
          <Stat
            label="First response"
            value={e.avg_first_response_s !== undefined ? formatAge(e.avg_first_response_s) : "–"}
            note="average"
          />
          <Stat label="SLA breaches" value={formatNumber(e.sla_breaches)} tone={e.sla_breaches ? "bad" : "good"} />
        </dl>
      </Card>
      <Card
        title="System health"
        actions={
          h?.status ? (
            <Badge tone={h.status === "healthy" ? "success" : "danger"}>{h.status === "healthy" ? "Healthy" : "Degraded"}</Badge>
          ) : undefined
        }
      >
        {services.length ? (
          <ul className="services">
            {services.map(([name, s]) => (
              <li key={name}>
                <span>{name}</span>
                <span className="muted">
                  {s.instances ?? 0} instance{s.instances === 1 ? "" : "s"}
                  {s.uptime_seconds !== undefined && ` · up ${formatAge(s.uptime_seconds)}`}
                </span>
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">No services reported.</p>
        )}
        {h?.uptime_seconds !== undefined && <p className="muted">Gateway up {formatAge(h.uptime_seconds)}</p>}
        {blocks.length > 0 && (
          <>
            <h3 className="subhead">Guardrail blocks</h3>
            <ul className="services">
              {blocks.map(([k, n]) => (
                <li key={k}>
                  <span>{k.replace(/_/g, " ")}</span>
                  <span>{formatNumber(n)}</span>
                </li>
              ))}
            </ul>
          </>
        )}
      </Card>
    </div>
  );
}

function AgentTable({ m }: { m: Metrics }) {
  const rows = Object.entries(m.agent_performance ?? {});
  if (!rows.length) return null;
  return (
    <Card title="Agents">
      <TableWrap label="Agents">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col" className="num">Calls</th>
              <th scope="col" className="num">Calls/min</th>
              <th scope="col" className="num">Errors</th>
              <th scope="col" className="num">Escalations</th>
              <th scope="col" className="num">Average</th>
              <th scope="col" className="num">p95</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([k, a]) => (
              <tr key={k}>
                <th scope="row">{agentLabel(k)}</th>
                <td className="num">{formatNumber(a.total_calls)}</td>
                <td className="num">{a.calls_per_minute !== undefined ? a.calls_per_minute.toFixed(1) : "–"}</td>
                <td className="num">
                  {formatNumber(a.errors)}
                  {a.errors && a.total_calls ? <span className="muted"> ({formatPercent(a.errors / a.total_calls, 1)})</span> : null}
                </td>
                <td className="num">{formatNumber(a.escalations)}</td>
                <td className="num">{formatMs(a.avg_response_time)}</td>
                <td className="num">{formatMs(a.p95_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </Card>
  );
}

function TracesCard() {
  const navigate = useNavigate();
  const [filters, setFilters] = useState<TraceFilters>({ status: "", minDurationMs: "", limit: 50 });
  const [applied, setApplied] = useState(filters);
  const traces = useQuery({
    queryKey: ["monitoring", "traces", applied],
    queryFn: ({ signal }) => fetchTraces(applied, signal),
    placeholderData: keepPreviousData,
    retry,
  });
  const list = traces.data?.traces ?? [];
  const badMin = filters.minDurationMs.trim() !== "" && !/^\d+$/.test(filters.minDurationMs.trim());

  return (
    <Card title="Recent traces" id="traces">
      <form
        className="filters filters-inline"
        aria-label="Filter traces"
        onSubmit={(e) => {
          e.preventDefault();
          if (!badMin) setApplied(filters);
        }}
      >
        <SelectField
          label="Status"
          value={filters.status}
          onChange={(e) => {
            const next = { ...filters, status: e.target.value as TraceFilters["status"] };
            setFilters(next);
            if (!badMin) setApplied(next);
          }}
        >
          <option value="">Any</option>
          <option value="ok">OK</option>
          <option value="error">Error</option>
        </SelectField>
        <TextField
          label="Slower than (ms)"
          inputMode="numeric"
          value={filters.minDurationMs}
          error={badMin ? "A whole number of milliseconds." : null}
          onChange={(e) => setFilters({ ...filters, minDurationMs: e.target.value })}
        />
        <Button type="submit" variant="secondary" disabled={badMin}>
          Apply
        </Button>
      </form>
      {traces.isPending && <Spinner label="Loading traces…" />}
      {traces.isError &&
        (notThere(traces.error) ? (
          <EmptyState title="Traces aren't available yet" />
        ) : (
          <Alert tone="error">{friendlyError(traces.error)}</Alert>
        ))}
      {traces.isSuccess && list.length === 0 && <EmptyState title="No traces match" />}
      {list.length > 0 && (
        <TableWrap label="Recent traces">
          <table className="table table-click" data-testid="traces-table">
            <thead>
              <tr>
                <th scope="col">Trace</th>
                <th scope="col">Started</th>
                <th scope="col" className="num">Duration</th>
                <th scope="col">Status</th>
                <th scope="col">Services</th>
                <th scope="col" className="num">Spans</th>
              </tr>
            </thead>
            <tbody>
              {list.map((t) => (
                <tr key={t.trace_id} onClick={() => navigate(`/monitoring/traces/${encodeURIComponent(t.trace_id)}`)}>
                  <th scope="row">
                    <Link to={`/monitoring/traces/${encodeURIComponent(t.trace_id)}`}>{t.name || t.trace_id}</Link>
                  </th>
                  <td>{t.start_ms ? formatDateTime(t.start_ms) : "–"}</td>
                  <td className="num">{formatMs(t.duration_ms)}</td>
                  <td>
                    <Badge tone={t.status === "error" ? "danger" : "success"}>{t.status ?? "–"}</Badge>
                  </td>
                  <td className="services-cell">{(t.services ?? []).join(", ")}</td>
                  <td className="num">{formatNumber(t.span_count)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </Card>
  );
}
