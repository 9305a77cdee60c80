// One trace: its spans as a waterfall (the tree, indented, each bar placed
// in the trace's time), and the selected span's attributes.
import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { friendlyError } from "../../api/client";
import type { Span } from "../../api/types";
import { Alert, Badge, Card, EmptyState, PageHeader, Spinner } from "../../components/ui";
import { formatDateTime, formatMs } from "../../lib/format";
import { fetchTrace, flattenSpans, traceBounds } from "./data";

export function TracePage() {
  const { traceId = "" } = useParams();
  const trace = useQuery({ queryKey: ["monitoring", "trace", traceId], queryFn: ({ signal }) => fetchTrace(traceId, signal) });
  const flat = useMemo(() => flattenSpans(trace.data?.spans), [trace.data]);
  const bounds = traceBounds(flat);
  const [selected, setSelected] = useState<string | null>(null);
  const sel: Span | undefined = flat.find((f) => f.span.span_id === selected)?.span ?? flat[0]?.span;
  const errors = flat.filter((f) => f.span.status === "error").length;

  return (
    <div className="trace-page">
      <Link to="/monitoring" className="back-link">
        ← Monitoring
      </Link>
      <PageHeader
        title="Trace"
        subtitle={
          <span className="mono" data-testid="trace-id">
            {traceId}
          </span>
        }
        actions={
          flat.length ? (
            <div className="panel-badges">
              <Badge>{flat.length} span{flat.length === 1 ? "" : "s"}</Badge>
              <Badge>{formatMs(bounds.end - bounds.start)}</Badge>
              {errors ? <Badge tone="danger">{errors} error{errors === 1 ? "" : "s"}</Badge> : <Badge tone="success">ok</Badge>}
            </div>
          ) : undefined
        }
      />
      {trace.isPending && <Spinner label="Loading the trace…" />}
      {trace.isError && <Alert tone="error">{friendlyError(trace.error)}</Alert>}
      {trace.isSuccess && flat.length === 0 && <EmptyState title="This trace has no spans" />}
      {flat.length > 0 && (
        <div className="trace-layout">
          <Card title="Spans">
            <ol className="waterfall" aria-label="Spans, in the order they started">
              {flat.map(({ span, depth }) => {
                const start = ((span.start_ms ?? bounds.start) - bounds.start) / (bounds.end - bounds.start);
                const width = Math.max(0.004, (span.duration_ms ?? 0) / (bounds.end - bounds.start));
                const isSel = sel?.span_id === span.span_id;
                return (
                  <li key={span.span_id}>
                    <button
                      type="button"
                      className={`span-row ${isSel ? "selected" : ""} ${span.status === "error" ? "error" : ""}`}
                      aria-pressed={isSel}
                      onClick={() => setSelected(span.span_id)}
                    >
                      <span className="span-name" style={{ paddingLeft: `${depth * 14}px` }}>
                        <span className="span-service">{span.service}</span> {span.name}
                      </span>
                      <span className="span-track" aria-hidden="true">
                        <span
                          className="span-bar"
                          style={{ left: `${start * 100}%`, width: `${Math.min(width, 1 - start) * 100}%` }}
                        />
                      </span>
                      <span className="span-dur">{formatMs(span.duration_ms)}</span>
                    </button>
                  </li>
                );
              })}
            </ol>
          </Card>
          {sel && (
            <Card title={sel.name ?? sel.span_id} className="span-detail">
              <dl className="facts">
                <div>
                  <dt>Service</dt>
                  <dd>
                    {sel.service ?? "–"}
                    {sel.instance ? ` (${sel.instance})` : ""}
                  </dd>
                </div>
                <div>
                  <dt>Started</dt>
                  <dd>{sel.start_ms ? formatDateTime(sel.start_ms) : "–"}</dd>
                </div>
                <div>
                  <dt>Duration</dt>
                  <dd>{formatMs(sel.duration_ms)}</dd>
                </div>
                <div>
                  <dt>Status</dt>
                  <dd>
                    <Badge tone={sel.status === "error" ? "danger" : "success"}>{sel.status ?? "–"}</Badge>
                  </dd>
                </div>
                <div>
                  <dt>Span</dt>
                  <dd className="mono">{sel.span_id}</dd>
                </div>
              </dl>
              <h3 className="subhead">Attributes</h3>
              {sel.attributes && Object.keys(sel.attributes).length ? (
                <dl className="attributes">
                  {Object.entries(sel.attributes).map(([k, v]) => (
                    <div key={k}>
                      <dt className="mono">{k}</dt>
                      <dd className="mono">{typeof v === "string" ? v : JSON.stringify(v)}</dd>
                    </div>
                  ))}
                </dl>
              ) : (
                <p className="muted">None.</p>
              )}
            </Card>
          )}
        </div>
      )}
    </div>
  );
}
