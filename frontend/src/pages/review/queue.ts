// The review queue's data: the list query, its filters, and how one live
// event (/api/hitl/stream) changes the lists and items already loaded.
import type { QueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import type { Escalation, EscalationDetail, EscalationList, QueueEvent } from "../../api/types";

export type StatusFilter = "open" | "pending" | "claimed" | "resolved";

export interface QueueFilters {
  status: StatusFilter;
  intent: string;
  breached: boolean;
  mine: boolean;
}

export const DEFAULT_FILTERS: QueueFilters = {
  status: "open",
  intent: "",
  breached: false,
  mine: false,
};

export const INTENTS = ["greeting", "question", "complaint", "refund", "technical", "billing", "other"];

/** The query key of a list: what the server filters on (not "mine"). */
export function queueKey(f: QueueFilters) {
  return ["queue", { status: f.status, intent: f.intent, breached: f.breached }] as const;
}

export function fetchQueue(f: QueueFilters, signal?: AbortSignal): Promise<EscalationList> {
  return api<EscalationList>("/api/hitl/escalations/pending", {
    query: {
      status: f.status,
      intent: f.intent || undefined,
      breached: f.breached ? "true" : undefined,
      limit: 200,
    },
    signal,
  });
}

export function matches(e: Escalation, f: Pick<QueueFilters, "status" | "intent" | "breached">): boolean {
  const statusOk = f.status === "open" ? e.status === "pending" || e.status === "claimed" : e.status === f.status;
  return statusOk && (!f.intent || e.intent === f.intent) && (!f.breached || e.sla_breached);
}

/** Oldest first, as the queue is worked. */
export function byAge(a: Escalation, b: Escalation): number {
  const ta = Date.parse(a.created_at);
  const tb = Date.parse(b.created_at);
  if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return ta - tb;
  return b.age_seconds - a.age_seconds;
}

/** A list after one item changed: added, replaced, or dropped. */
export function applyToList(list: EscalationList, e: Escalation, f: Parameters<typeof matches>[1]): EscalationList {
  const had = list.escalations.some((x) => x.id === e.id);
  const keep = matches(e, f);
  let items = list.escalations.filter((x) => x.id !== e.id);
  if (keep) items = [...items, e].sort(byAge);
  const total = list.total + (keep && !had ? 1 : 0) - (!keep && had ? 1 : 0);
  return { ...list, escalations: items, total: Math.max(total, items.length) };
}

/** Fold one changed item into every loaded list and its detail. */
export function applyEscalation(qc: QueryClient, e: Escalation): void {
  for (const q of qc.getQueryCache().findAll({ queryKey: ["queue"] })) {
    const f = q.queryKey[1] as Parameters<typeof matches>[1] | undefined;
    if (!f) continue;
    qc.setQueryData<EscalationList>(q.queryKey, (old) => (old ? applyToList(old, e, f) : old));
  }
  qc.setQueryData<EscalationDetail>(["escalation", e.id], (old) =>
    old ? { ...old, ...e, transcript: old.transcript } : old,
  );
}

export function applyQueueEvent(qc: QueryClient, ev: QueueEvent): void {
  if (!ev || !ev.escalation || typeof ev.escalation.id !== "string") return;
  applyEscalation(qc, ev.escalation);
  // The transcript has a new message once resolved.
  if (ev.kind === "resolved") void qc.invalidateQueries({ queryKey: ["escalation", ev.escalation.id] });
}
