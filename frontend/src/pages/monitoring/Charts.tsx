// The monitoring charts (recharts). Each chart comes with a visually hidden
// table of the same numbers for screen readers, and an empty state when
// there is nothing to draw.
import type { ReactNode } from "react";
import {
  Area,
  AreaChart,
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { EmptyState } from "../../components/ui";
import { formatMs, formatNumber, formatPercent } from "../../lib/format";
import { PALETTE, SERIES_COLOR, agentLabel, type LatencyRow, type NameValue, type SeriesRow } from "./data";

const AXIS = { fontSize: 12, fill: "#5b6478" };
const GRID = "#e6e8ef";

function timeTick(t: number, spanS: number): string {
  const d = new Date(t);
  if (spanS > 2 * 86400) return d.toLocaleDateString([], { month: "short", day: "numeric" });
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function ChartFigure({ label, children, table }: { label: string; children: ReactNode; table: ReactNode }) {
  return (
    <figure className="chart" aria-label={label} data-testid="chart">
      {/* recharts' keyboard layer: Tab to a chart, arrows move its tooltip */}
      <div className="chart-canvas">
        {children}
      </div>
      <figcaption className="sr-only">{label}</figcaption>
      <div className="sr-only">{table}</div>
    </figure>
  );
}

function SrTable({ head, rows }: { head: string[]; rows: (string | number)[][] }) {
  return (
    <table>
      <thead>
        <tr>
          {head.map((h) => (
            <th key={h} scope="col">
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i}>
            {r.map((c, j) => (
              <td key={j}>{c}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function IntentChart({ rows }: { rows: NameValue[] }) {
  if (!rows.length) return <EmptyState title="No chats classified yet">Intents appear once customers chat.</EmptyState>;
  const total = rows.reduce((s, r) => s + r.value, 0);
  return (
    <ChartFigure
      label="Intent distribution"
      table={
        <SrTable
          head={["Intent", "Chats", "Share", "Average confidence"]}
          rows={rows.map((r) => [r.name, r.value, formatPercent(r.value / total), formatPercent(r.confidence)])}
        />
      }
    >
      <ResponsiveContainer width="100%" height={Math.max(160, rows.length * 36 + 30)}>
        <BarChart data={rows} layout="vertical" margin={{ top: 4, right: 24, bottom: 4, left: 8 }}>
          <CartesianGrid horizontal={false} stroke={GRID} />
          <XAxis type="number" allowDecimals={false} tick={AXIS} />
          <YAxis type="category" dataKey="name" width={84} tick={AXIS} />
          <Tooltip
            formatter={(v, _n, item) => {
              const c = (item?.payload as NameValue | undefined)?.confidence;
              return [
                `${formatNumber(Number(v))} (${formatPercent(Number(v) / total)})${c !== undefined ? ` · confidence ${formatPercent(c)}` : ""}`,
                "Chats",
              ];
            }}
          />
          <Bar dataKey="value" name="Chats" radius={[0, 4, 4, 0]} isAnimationActive={false}>
            {rows.map((r, i) => (
              <Cell key={r.key} fill={PALETTE[i % PALETTE.length]} />
            ))}
          </Bar>
        </BarChart>
      </ResponsiveContainer>
    </ChartFigure>
  );
}

export function LatencyChart({ rows }: { rows: LatencyRow[] }) {
  if (!rows.length) return <EmptyState title="No latency measured yet">Percentiles appear once agents answer calls.</EmptyState>;
  return (
    <ChartFigure
      label="Latency percentiles per agent"
      table={
        <SrTable
          head={["Agent", "p50", "p95", "p99"]}
          rows={rows.map((r) => [r.name, formatMs(r.p50), formatMs(r.p95), formatMs(r.p99)])}
        />
      }
    >
      <ResponsiveContainer width="100%" height={260}>
        <BarChart data={rows} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
          <CartesianGrid vertical={false} stroke={GRID} />
          <XAxis dataKey="name" tick={AXIS} interval={0} />
          <YAxis tick={AXIS} tickFormatter={(v) => formatMs(Number(v))} width={64} />
          <Tooltip formatter={(v) => formatMs(Number(v))} />
          <Legend />
          <Bar dataKey="p50" name="p50" fill="#a5b4fc" radius={[3, 3, 0, 0]} isAnimationActive={false} />
          <Bar dataKey="p95" name="p95" fill="#6366f1" radius={[3, 3, 0, 0]} isAnimationActive={false} />
          <Bar dataKey="p99" name="p99" fill="#3730a3" radius={[3, 3, 0, 0]} isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </ChartFigure>
  );
}

export function ActivityChart({ rows, windowS }: { rows: SeriesRow[]; windowS: number }) {
  if (!rows.length || !rows.some((r) => r.chats || r.escalations || r.errors)) {
    return <EmptyState title="No activity in this window">Chats and escalations over time appear here.</EmptyState>;
  }
  return (
    <ChartFigure
      label="Chats, escalations and errors over time"
      table={
        <SrTable
          head={["Time", "Chats", "Escalations", "Errors"]}
          rows={rows
            .filter((r) => r.chats || r.escalations || r.errors)
            .map((r) => [new Date(r.t).toLocaleString(), r.chats, r.escalations, r.errors])}
        />
      }
    >
      <ResponsiveContainer width="100%" height={260}>
        <AreaChart data={rows} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
          <CartesianGrid vertical={false} stroke={GRID} />
          <XAxis
            dataKey="t"
            type="number"
            scale="time"
            domain={["dataMin", "dataMax"]}
            tick={AXIS}
            tickFormatter={(t) => timeTick(Number(t), windowS)}
          />
          <YAxis allowDecimals={false} tick={AXIS} width={40} />
          <Tooltip labelFormatter={(t) => new Date(Number(t)).toLocaleString()} />
          <Legend />
          <Area
            type="monotone"
            dataKey="chats"
            name="Chats"
            stroke={SERIES_COLOR.chats}
            fill={SERIES_COLOR.chats}
            fillOpacity={0.15}
            isAnimationActive={false}
          />
          <Area
            type="monotone"
            dataKey="escalations"
            name="Escalations"
            stroke={SERIES_COLOR.escalations}
            fill={SERIES_COLOR.escalations}
            fillOpacity={0.2}
            isAnimationActive={false}
          />
          <Area
            type="monotone"
            dataKey="errors"
            name="Errors"
            stroke={SERIES_COLOR.errors}
            fill={SERIES_COLOR.errors}
            fillOpacity={0.15}
            isAnimationActive={false}
          />
        </AreaChart>
      </ResponsiveContainer>
    </ChartFigure>
  );
}

export function LatencyOverTimeChart({
  rows,
  agents,
  windowS,
}: {
  rows: SeriesRow[];
  agents: string[];
  windowS: number;
}) {
  if (!agents.length) return <EmptyState title="No latency in this window" />;
  // A line needs two points: a series with one (an agent's first minute)
  // is drawn as a dot, or it would not show at all.
  const points = (a: string) => rows.filter((r) => typeof r[`p95_${a}`] === "number").length;
  return (
    <ChartFigure
      label="p95 latency over time per agent"
      table={
        <SrTable
          head={["Time", ...agents.map(agentLabel)]}
          rows={rows.map((r) => [new Date(r.t).toLocaleString(), ...agents.map((a) => formatMs(r[`p95_${a}`]))])}
        />
      }
    >
      <ResponsiveContainer width="100%" height={260}>
        <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
          <CartesianGrid vertical={false} stroke={GRID} />
          <XAxis
            dataKey="t"
            type="number"
            scale="time"
            domain={["dataMin", "dataMax"]}
            tick={AXIS}
            tickFormatter={(t) => timeTick(Number(t), windowS)}
          />
          <YAxis tick={AXIS} tickFormatter={(v) => formatMs(Number(v))} width={64} />
          <Tooltip labelFormatter={(t) => new Date(Number(t)).toLocaleString()} formatter={(v) => formatMs(Number(v))} />
          <Legend />
          {agents.map((a, i) => (
            <Line
              key={a}
              type="monotone"
              dataKey={`p95_${a}`}
              name={agentLabel(a)}
              stroke={PALETTE[i % PALETTE.length]}
              dot={points(a) < 2 ? { r: 3, fill: PALETTE[i % PALETTE.length] } : false}
              connectNulls
              isAnimationActive={false}
            />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </ChartFigure>
  );
}

/** A ring showing a share (deflection rate): drawn in SVG, no library. */
export function Gauge({ value, label }: { value?: number; label: string }) {
  const v = value !== undefined && Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : undefined;
  const r = 42;
  const c = 2 * Math.PI * r;
  return (
    <div className="gauge" role="img" aria-label={`${label}: ${v === undefined ? "no data" : formatPercent(v)}`}>
      <svg viewBox="0 0 100 100" aria-hidden="true">
        <circle cx="50" cy="50" r={r} fill="none" stroke="#e6e8ef" strokeWidth="10" />
        {v !== undefined && (
          <circle
            cx="50"
            cy="50"
            r={r}
            fill="none"
            stroke="#059669"
            strokeWidth="10"
            strokeLinecap="round"
            strokeDasharray={`${c * v} ${c}`}
            transform="rotate(-90 50 50)"
          />
        )}
      </svg>
      <span className="gauge-value">{v === undefined ? "–" : formatPercent(v)}</span>
    </div>
  );
}
