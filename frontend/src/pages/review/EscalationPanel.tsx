// One escalation: the whole transcript, the AI's draft, claim/release, and
// the answer (approve / edit / reject, notes, add to knowledge, hand back).
import { useEffect, useRef, useState } from "react";
import type { FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "react-router";
import { ApiError, api, friendlyError } from "../../api/client";
import type { Escalation, EscalationDetail } from "../../api/types";
import { useAuth } from "../../auth/AuthContext";
import { Alert, Badge, Button, Checkbox, Spinner, TextArea } from "../../components/ui";
import { ageSeconds, formatAge, formatDateTime, humanize, useNow } from "../../lib/format";
import { applyEscalation } from "./queue";

type Decision = "approve" | "edit" | "reject";

const REPLY_MAX = 4000;

/** Why a 409 happened, in words an agent can act on. */
export function conflictMessage(e: ApiError, me?: string): string {
  const item = e.body.escalation as Escalation | undefined;
  if (item?.status === "resolved" || /resolved/.test(e.detail)) {
    const who = item?.resolved_by ?? e.detail.replace(/^already resolved by /, "");
    return `This escalation was already answered${who ? ` by ${who}` : ""}. Nothing was sent.`;
  }
  if (item?.claimed_by && item.claimed_by !== me) {
    return `${item.claimed_by} claimed this escalation first. Pick another one, or wait until they release it.`;
  }
  if (/claimed by/.test(e.detail)) {
    return `${e.detail.replace(/^claimed by /, "")} claimed this escalation first. Pick another one, or wait until they release it.`;
  }
  if (/not claimed by you/.test(e.detail)) {
    return "You no longer hold this escalation (your claim may have expired). Claim it again to answer.";
  }
  return `Someone else changed this escalation first (${e.detail}).`;
}

export function EscalationPanel({ id }: { id: string }) {
  const { user } = useAuth();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const now = useNow(15_000);
  const heading = useRef<HTMLHeadingElement>(null);
  const [problem, setProblem] = useState<{ tone: "error" | "warning"; text: string } | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const detail = useQuery({
    queryKey: ["escalation", id],
    queryFn: ({ signal }) => api<EscalationDetail>(`/api/hitl/escalations/${encodeURIComponent(id)}`, { signal }),
  });

  useEffect(() => {
    heading.current?.focus();
  }, [detail.isSuccess]);

  const onError = (e: unknown) => {
    if (e instanceof ApiError && e.status === 409) {
      const item = e.body.escalation as Escalation | undefined;
      if (item) applyEscalation(qc, item);
      else void qc.invalidateQueries({ queryKey: ["escalation", id] });
      setProblem({ tone: "warning", text: conflictMessage(e, user?.username) });
    } else {
      setProblem({ tone: "error", text: friendlyError(e) });
    }
  };

  const act = useMutation({
    mutationFn: (v: { action: string; body?: Record<string, unknown> }) =>
      api<Escalation>(`/api/hitl/escalations/${encodeURIComponent(id)}/${v.action}`, {
        method: "POST",
        body: v.body,
      }),
    onMutate: () => {
      setProblem(null);
      setDone(null);
    },
    onSuccess: (item, v) => {
      applyEscalation(qc, item);
      if (item.status === "resolved") {
        void qc.invalidateQueries({ queryKey: ["escalation", id] });
        setDone(
          `Reply sent to the customer.${item.handed_back ? " The conversation is back with the AI." : " The conversation stays with the team."}${
            item.knowledge_ids?.length ? " Added to the knowledge base." : ""
          }`,
        );
      } else if (v.action === "claim") {
        setDone("You've claimed this escalation. The customer is waiting for your answer.");
      } else if (v.action === "release") {
        setDone("Released back to the queue.");
      }
    },
    onError,
  });

  if (detail.isPending) return <Spinner label="Loading the escalation…" />;
  if (detail.isError) {
    return (
      <div className="panel">
        <Alert tone="error">{friendlyError(detail.error)}</Alert>
        <Link to="/review" className="back-link">
          ← Back to the queue
        </Link>
      </div>
    );
  }
  const e = detail.data;
  const mine = e.status === "claimed" && e.claimed_by === user?.username;
  const age = ageSeconds(e.created_at, e.age_seconds, now);

  return (
    <article className="panel" aria-labelledby="esc-title" data-testid="escalation-panel">
      <Link to="/review" className="back-link">
        ← Back to the queue
      </Link>
      <header className="panel-header">
        <h2 id="esc-title" tabIndex={-1} ref={heading}>
          {humanize(e.intent)} escalation
        </h2>
        <div className="panel-badges">
          <Badge tone={e.status === "resolved" ? "success" : e.status === "claimed" ? "info" : "warning"}>
            {e.status === "pending" ? "Waiting" : e.status === "claimed" ? `Claimed by ${mine ? "you" : e.claimed_by}` : "Resolved"}
          </Badge>
          {e.sla_breached ? <Badge tone="danger">SLA breached</Badge> : null}
        </div>
        <dl className="facts">
          <div>
            <dt>Reason</dt>
            <dd>{humanize(e.reason)}</dd>
          </div>
          <div>
            <dt>Intent confidence</dt>
            <dd>{Math.round(e.confidence * 100)}%</dd>
          </div>
          <div>
            <dt>{e.status === "resolved" ? "Created" : "Waiting"}</dt>
            <dd>{e.status === "resolved" ? formatDateTime(e.created_at) : formatAge(age)}</dd>
          </div>
          <div>
            <dt>Conversation</dt>
            <dd className="mono">{e.conversation_id}</dd>
          </div>
        </dl>
      </header>

      {problem && (
        <Alert tone={problem.tone} onDismiss={() => setProblem(null)}>
          {problem.text}
        </Alert>
      )}
      {done && (
        <Alert tone="success" onDismiss={() => setDone(null)}>
          {done}
        </Alert>
      )}

      <section aria-labelledby="transcript-title" className="transcript-section">
        <h3 id="transcript-title">Conversation</h3>
        <ol className="transcript" data-testid="transcript" tabIndex={0} aria-labelledby="transcript-title">
          {(e.transcript ?? []).map((m, i) => (
            <li key={m.id ?? i} className={`t-msg t-${m.role}`}>
              <span className="t-who">
                {m.role === "user" ? "Customer" : m.role === "agent" ? "Support team" : "AI"}
                {m.timestamp && <time dateTime={m.timestamp}> · {formatDateTime(m.timestamp)}</time>}
              </span>
              <p>{m.text}</p>
            </li>
          ))}
          {!e.transcript?.length && (
            <li className="t-msg t-user">
              <span className="t-who">Customer</span>
              <p>{e.customer_message}</p>
            </li>
          )}
        </ol>
      </section>

      {e.status === "resolved" ? (
        <section className="resolution" aria-labelledby="resolution-title">
          <h3 id="resolution-title">
            {humanize(e.resolution)} by {e.resolved_by}
            {e.resolved_at && <span className="muted"> · {formatDateTime(e.resolved_at)}</span>}
          </h3>
          <blockquote>{e.final_reply}</blockquote>
          <p className="muted">
            {e.handed_back ? "Handed back to the AI." : "Kept with the team."}
            {e.knowledge_ids?.length ? " Added to the knowledge base." : ""}
          </p>
          <Button variant="secondary" onClick={() => navigate("/review")}>
            Back to the queue
          </Button>
        </section>
      ) : (
        <>
          <section aria-labelledby="draft-title" className="draft">
            <h3 id="draft-title">AI's draft</h3>
            <blockquote data-testid="ai-draft">{e.ai_draft || <span className="muted">No draft.</span>}</blockquote>
          </section>
          {mine ? (
            <AnswerForm
              e={e}
              busy={act.isPending}
              onSend={(action, body) => act.mutate({ action, body })}
              onRelease={() => act.mutate({ action: "release" })}
            />
          ) : (
            <div className="claim-box">
              {e.status === "claimed" ? (
                <p>
                  <strong>{e.claimed_by}</strong> is handling this. You can take it over only if their claim has
                  expired.
                </p>
              ) : (
                <p>Claim this escalation to answer the customer. Others will see it's yours.</p>
              )}
              <Button busy={act.isPending} onClick={() => act.mutate({ action: "claim" })}>
                {e.status === "claimed" ? "Take over" : "Claim"}
              </Button>
            </div>
          )}
        </>
      )}
    </article>
  );
}

function AnswerForm({
  e,
  busy,
  onSend,
  onRelease,
}: {
  e: EscalationDetail;
  busy: boolean;
  onSend: (action: Decision, body: Record<string, unknown>) => void;
  onRelease: () => void;
}) {
  const [decision, setDecision] = useState<Decision>(e.ai_draft ? "approve" : "reject");
  const [reply, setReply] = useState(e.ai_draft);
  const [notes, setNotes] = useState("");
  const [handBack, setHandBack] = useState(true);
  const [teach, setTeach] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const replyRef = useRef<HTMLTextAreaElement>(null);

  const choose = (d: Decision) => {
    setDecision(d);
    setError(null);
    if (d === "edit" && (reply === "" || decision === "reject")) setReply(e.ai_draft);
    if (d === "reject") setReply("");
    if (d !== "approve") setTimeout(() => replyRef.current?.focus(), 0);
  };

  const submit = (ev: FormEvent) => {
    ev.preventDefault();
    const body: Record<string, unknown> = { hand_back: handBack, add_to_knowledge: teach };
    if (notes.trim()) body.notes = notes.trim();
    if (decision !== "approve") {
      if (!reply.trim()) {
        setError("Write the reply the customer will receive.");
        replyRef.current?.focus();
        return;
      }
      if (reply.length > REPLY_MAX) {
        setError(`Replies can be at most ${REPLY_MAX} characters.`);
        return;
      }
      body.reply = reply;
    }
    setError(null);
    onSend(decision, body);
  };

  const options: { value: Decision; label: string; hint: string }[] = [
    { value: "approve", label: "Approve", hint: "Send the AI's draft as it is" },
    { value: "edit", label: "Edit", hint: "Change the draft, then send it" },
    { value: "reject", label: "Reject", hint: "Discard the draft and write your own" },
  ];

  return (
    <form className="answer" onSubmit={submit} aria-labelledby="answer-title">
      <h3 id="answer-title">Your answer</h3>
      <fieldset className="segmented">
        <legend className="sr-only">Decision</legend>
        {options.map((o) => (
          <label key={o.value} className={decision === o.value ? "checked" : undefined}>
            <input
              type="radio"
              name="decision"
              value={o.value}
              checked={decision === o.value}
              onChange={() => choose(o.value)}
              disabled={o.value !== "reject" && !e.ai_draft}
            />
            <span className="seg-label">{o.label}</span>
            <span className="seg-hint">{o.hint}</span>
          </label>
        ))}
      </fieldset>
      {decision !== "approve" && (
        <TextArea
          ref={replyRef}
          label={decision === "edit" ? "Edited reply" : "Your reply"}
          id="reply-text"
          rows={6}
          value={reply}
          onChange={(ev) => setReply(ev.target.value)}
          error={error}
          hint={`${reply.length} / ${REPLY_MAX} characters · the customer sees this`}
          maxLength={REPLY_MAX}
        />
      )}
      <TextArea
        label="Internal notes (optional)"
        id="reply-notes"
        rows={2}
        value={notes}
        onChange={(ev) => setNotes(ev.target.value)}
        hint="For the team and the AI's training; never shown to the customer."
        maxLength={2000}
      />
      <Checkbox
        label="Hand the conversation back to the AI"
        hint="(otherwise the team keeps answering it)"
        checked={handBack}
        onChange={(ev) => setHandBack(ev.target.checked)}
      />
      <Checkbox
        label="Add to knowledge"
        hint="(the AI answers the same question this way next time)"
        checked={teach}
        onChange={(ev) => setTeach(ev.target.checked)}
      />
      <div className="answer-actions">
        <Button type="submit" busy={busy}>
          {decision === "approve" ? "Approve and send" : decision === "edit" ? "Send edited reply" : "Reject draft and send"}
        </Button>
        <Button variant="ghost" onClick={onRelease} disabled={busy}>
          Release
        </Button>
      </div>
    </form>
  );
}
