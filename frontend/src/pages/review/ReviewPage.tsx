// The human review (HITL) dashboard: the queue, arriving live over
// /api/hitl/stream, oldest first with age and SLA state; filters; and the
// selected escalation's detail beside it (on a phone, in its place).
import { useEffect, useMemo, useRef, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { friendlyError } from "../../api/client";
import type { Escalation, QueueEvent } from "../../api/types";
import { useAuth } from "../../auth/AuthContext";
import { Alert, Badge, Checkbox, EmptyState, LiveDot, PageHeader, SelectField, Spinner } from "../../components/ui";
import { ageSeconds, formatAge, humanize, useNow } from "../../lib/format";
import { useEventSource } from "../../lib/useEventSource";
import { EscalationPanel } from "./EscalationPanel";
import {
  DEFAULT_FILTERS,
  INTENTS,
  applyQueueEvent,
  byAge,
  fetchQueue,
  queueKey,
  type QueueFilters,
  type StatusFilter,
} from "./queue";

const FILTER_KEY = "support.review.filters";

function loadFilters(): QueueFilters {
  try {
    const raw = sessionStorage.getItem(FILTER_KEY);
    return raw ? { ...DEFAULT_FILTERS, ...(JSON.parse(raw) as Partial<QueueFilters>) } : DEFAULT_FILTERS;
  } catch {
    return DEFAULT_FILTERS;
  }
}

export function ReviewPage() {
  const { id } = useParams();
  const { user, token } = useAuth();
  const qc = useQueryClient();
  const [filters, setFilters] = useState<QueueFilters>(loadFilters);
  const [announcement, setAnnouncement] = useState("");
  const [fresh, setFresh] = useState<Record<string, number>>({});
  const now = useNow(15_000);

  useEffect(() => {
    sessionStorage.setItem(FILTER_KEY, JSON.stringify(filters));
  }, [filters]);

  const queue = useQuery({
    queryKey: queueKey(filters),
    queryFn: ({ signal }) => fetchQueue(filters, signal),
  });

  const streamUrl = token ? `/api/hitl/stream?access_token=${encodeURIComponent(token)}` : null;
  const stream = useEventSource(streamUrl, {
    events: {
      escalation: (data) => {
        const ev = data as QueueEvent;
        applyQueueEvent(qc, ev);
        if (ev?.kind === "created") {
          setFresh((f) => ({ ...f, [ev.escalation.id]: Date.now() }));
          setAnnouncement(
            `New escalation: ${humanize(ev.escalation.intent)} — ${ev.escalation.customer_message.slice(0, 80)}`,
          );
        }
      },
    },
    // (Re)connected: anything may have happened meanwhile.
    onOpen: () => void qc.invalidateQueries({ queryKey: ["queue"] }),
  });

  // "New" marks fade after a minute.
  useEffect(() => {
    const old = Object.entries(fresh).filter(([, t]) => now - t > 60_000);
    if (old.length) setFresh((f) => Object.fromEntries(Object.entries(f).filter(([, t]) => now - t <= 60_000)));
  }, [now, fresh]);

  const items = useMemo(() => {
    const all = queue.data?.escalations ?? [];
    const mine = filters.mine ? all.filter((e) => e.claimed_by === user?.username) : all;
    return [...mine].sort(byAge);
  }, [queue.data, filters.mine, user?.username]);

  const breached = items.filter((e) => e.sla_breached).length;
  const set = <K extends keyof QueueFilters>(k: K, v: QueueFilters[K]) => setFilters((f) => ({ ...f, [k]: v }));

  return (
    <div className={`review ${id ? "has-detail" : ""}`}>
      <div className="review-queue">
        <PageHeader
          title="Review queue"
          subtitle={
            queue.data
              ? `${items.length} ${filters.status === "resolved" ? "resolved" : "waiting"}${breached ? ` · ${breached} past SLA` : ""}`
              : undefined
          }
          actions={<LiveDot status={stream} />}
        />
        <div className="sr-only" aria-live="polite" role="status">
          {announcement}
        </div>
        <form className="filters" aria-label="Filter the queue" onSubmit={(e) => e.preventDefault()}>
          <SelectField
            label="Status"
            value={filters.status}
            onChange={(e) => set("status", e.target.value as StatusFilter)}
          >
            <option value="open">Open</option>
            <option value="pending">Waiting</option>
            <option value="claimed">Claimed</option>
            <option value="resolved">Resolved</option>
          </SelectField>
          <SelectField label="Intent" value={filters.intent} onChange={(e) => set("intent", e.target.value)}>
            <option value="">All intents</option>
            {INTENTS.map((i) => (
              <option key={i} value={i}>
                {humanize(i)}
              </option>
            ))}
          </SelectField>
          <div className="filter-checks">
            <Checkbox label="Past SLA only" checked={filters.breached} onChange={(e) => set("breached", e.target.checked)} />
            <Checkbox label="Claimed by me" checked={filters.mine} onChange={(e) => set("mine", e.target.checked)} />
          </div>
        </form>
        {queue.isPending && <Spinner label="Loading the queue…" />}
        {queue.isError && <Alert tone="error">{friendlyError(queue.error)}</Alert>}
        {queue.isSuccess && items.length === 0 && (
          <EmptyState title="Nothing waiting" icon="check">
            New escalations appear here as soon as they arrive.
          </EmptyState>
        )}
        {items.length > 0 && (
          <ul className="queue-list" aria-label="Escalations, oldest first" data-testid="queue-list">
            {items.map((e) => (
              <QueueRow key={e.id} e={e} now={now} selected={e.id === id} fresh={!!fresh[e.id]} me={user?.username} />
            ))}
          </ul>
        )}
      </div>
      <div className="review-detail">
        {id ? (
          <EscalationPanel id={id} key={id} />
        ) : (
          <EmptyState title="Select an escalation" icon="list">
            Pick one from the queue to see the conversation and the AI's draft.
          </EmptyState>
        )}
      </div>
    </div>
  );
}

function QueueRow({
  e,
  now,
  selected,
  fresh,
  me,
}: {
  e: Escalation;
  now: number;
  selected: boolean;
  fresh: boolean;
  me?: string;
}) {
  const ref = useRef<HTMLAnchorElement>(null);
  const age = ageSeconds(e.created_at, e.age_seconds, now);
  return (
    <li>
      <Link
        ref={ref}
        to={`/review/${e.id}`}
        className={`queue-item ${selected ? "selected" : ""} ${e.sla_breached ? "breached" : ""}`}
        aria-current={selected ? "page" : undefined}
        data-testid="queue-item"
        data-id={e.id}
      >
        <div className="queue-item-top">
          <Badge tone="accent">{humanize(e.intent)}</Badge>
          {fresh && <Badge tone="info">New</Badge>}
          {e.status === "claimed" && (
            <Badge tone={e.claimed_by === me ? "success" : "neutral"}>
              {e.claimed_by === me ? "Claimed by you" : `Claimed by ${e.claimed_by}`}
            </Badge>
          )}
          {e.status === "resolved" && <Badge tone="success">{humanize(e.resolution)}</Badge>}
          <span className="queue-age" title={`Created ${new Date(e.created_at).toLocaleString()}`}>
            <span className="sr-only">Waiting for </span>
            {formatAge(age)}
          </span>
        </div>
        <p className="queue-text">{e.customer_message}</p>
        <div className="queue-item-bottom">
          <span className="muted">{humanize(e.reason)}</span>
          {e.sla_breached ? (
            <Badge tone="danger">SLA breached</Badge>
          ) : e.status !== "resolved" ? (
            <Badge tone="neutral">Within SLA</Badge>
          ) : null}
        </div>
      </Link>
    </li>
  );
}
