// The customer's chat: the conversation so far, a composer that sends on
// Enter, a typing indicator while the AI works, a banner while a person has
// been asked, and that person's reply arriving live (/api/chat/stream).
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { FormEvent, KeyboardEvent } from "react";
import { Link } from "react-router";
import { ApiError, api, friendlyError } from "../api/client";
import type { ChatMessage, ChatReply, HistoryReply, HumanReplyEvent } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { Alert, Button, LiveDot } from "../components/ui";
import { formatTime, humanize } from "../lib/format";
import {
  conversationKey,
  loadConversation,
  saveConversation,
  type SavedConversation,
} from "../lib/conversationStore";
import { useEventSource } from "../lib/useEventSource";

export const MAX_CHARS = 2000;

interface UiMessage extends ChatMessage {
  key: string;
  state?: "sending" | "failed";
  /** Arrived on the stream (the history may not have it yet). */
  live?: boolean;
}

const SUGGESTIONS = [
  "Where is my order?",
  "How do I get a refund?",
  "I can't sign in to my account",
  "Why was I charged twice?",
];

let seq = 0;
const localKey = () => `local-${Date.now()}-${++seq}`;

function fromServer(m: ChatMessage, i: number): UiMessage {
  return { ...m, key: m.id ?? `srv-${i}-${m.timestamp ?? ""}` };
}

/** The human reply from the stream, unless the history already holds it. */
function appendAgentReply(list: UiMessage[], ev: HumanReplyEvent): UiMessage[] {
  const t = Date.parse(ev.timestamp);
  const dup = list.some(
    (m) =>
      m.role === "agent" &&
      m.text === ev.text &&
      (!m.timestamp || Number.isNaN(t) || Math.abs(Date.parse(m.timestamp) - t) < 5000),
  );
  if (dup) return list;
  return [
    ...list,
    { key: localKey(), role: "agent", text: ev.text, timestamp: ev.timestamp, agent_type: "human", live: true },
  ];
}

export function ChatPage() {
  const { user, token } = useAuth();
  const storeKey = conversationKey(user?.id);
  const [conv, setConv] = useState<SavedConversation | null>(() => loadConversation(storeKey));
  const [messages, setMessages] = useState<UiMessage[]>([]);
  const [status, setStatus] = useState<string>("ai");
  const [loading, setLoading] = useState(false);
  const [sending, setSending] = useState(false);
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [cooldownUntil, setCooldownUntil] = useState(0);
  const [now, setNow] = useState(() => Date.now());
  const listRef = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);

  // Another person signed in or out: their own conversation.
  const lastKey = useRef(storeKey);
  useEffect(() => {
    if (lastKey.current === storeKey) return;
    lastKey.current = storeKey;
    setConv(loadConversation(storeKey));
    setMessages([]);
    setStatus("ai");
    setError(null);
    setNotice(null);
  }, [storeKey]);

  const convRef = useRef(conv);
  convRef.current = conv;

  // Bumped by each live event: a history answer older than it is stale.
  const liveSeq = useRef(0);

  const loadHistory = useCallback(async (c: SavedConversation, quiet = false) => {
    if (!quiet) setLoading(true);
    const seqAtStart = liveSeq.current;
    try {
      const h = await api<HistoryReply>("/api/chat/history", {
        query: { conversation_id: c.id, conversation_token: c.token, limit: 200 },
      });
      if (convRef.current?.id !== c.id) return;
      if (liveSeq.current === seqAtStart) setStatus(h.status);
      const server = h.messages.map(fromServer);
      setMessages((prev) => [
        ...server,
        // keep what is still on its way or failed to send, and live replies
        // the history did not have yet
        ...prev.filter(
          (m) => m.state || (m.live && !server.some((s) => s.role === "agent" && s.text === m.text)),
        ),
      ]);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        // Gone, or not this person's: start afresh.
        setConv(null);
        setMessages([]);
        setStatus("ai");
        saveConversation(lastKey.current, null);
      } else if (!quiet) {
        setError(friendlyError(e));
      }
    } finally {
      if (!quiet) setLoading(false);
    }
  }, []);

  // A conversation this page just started needs no history.
  const startedHere = useRef<string | null>(null);
  useEffect(() => {
    if (conv && conv.id !== startedHere.current) void loadHistory(conv);
    // Only when the conversation itself changes (not on every new token).
  }, [conv?.id]); // eslint-disable-line react-hooks/exhaustive-deps

  // While people own the conversation, their replies arrive on a stream.
  const streamUrl = useMemo(() => {
    if (!conv || status !== "human") return null;
    const p = new URLSearchParams({ conversation_id: conv.id });
    if (conv.token) p.set("conversation_token", conv.token);
    else if (token) p.set("access_token", token);
    return `/api/chat/stream?${p.toString()}`;
  }, [conv, status, token]);

  const streamStatus = useEventSource(streamUrl, {
    events: {
      message: (data) => {
        const ev = data as HumanReplyEvent;
        if (!ev || typeof ev.text !== "string") return;
        liveSeq.current += 1;
        setMessages((prev) => appendAgentReply(prev, ev));
        if (ev.handed_back) {
          setStatus("ai");
          setNotice("Our team has replied. You can keep chatting with our assistant here.");
        } else {
          setNotice(null);
        }
      },
    },
    // Catch up on a reply sent before the stream was open.
    onOpen: () => {
      const c = convRef.current;
      if (c) void loadHistory(c, true);
    },
  });

  // Keep the newest message in view: on each new message, and when the log
  // changes size (a phone's keyboard opening) while it was at the bottom.
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
    atBottom.current = true;
  }, [messages, sending]);
  useEffect(() => {
    const el = listRef.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const onLogScroll = () => {
    const el = listRef.current;
    if (el) atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
  };

  // Count down a rate limit's wait.
  useEffect(() => {
    if (cooldownUntil <= Date.now()) return;
    const t = setInterval(() => {
      setNow(Date.now());
      if (Date.now() >= cooldownUntil) clearInterval(t);
    }, 250);
    return () => clearInterval(t);
  }, [cooldownUntil]);
  const waitLeft = Math.max(0, Math.ceil((cooldownUntil - now) / 1000));

  const send = useCallback(
    async (text: string, retryKey?: string) => {
      const message = text.trim();
      if (!message || sending) return;
      if (message.length > MAX_CHARS) {
        setError(`Messages can be at most ${MAX_CHARS} characters.`);
        return;
      }
      const key = retryKey ?? localKey();
      setError(null);
      setNotice(null);
      setSending(true);
      setMessages((prev) =>
        retryKey
          ? prev.map((m) => (m.key === key ? { ...m, state: "sending" } : m))
          : [...prev, { key, role: "user", text: message, state: "sending", timestamp: new Date().toISOString() }],
      );
      if (!retryKey) setDraft("");
      const c = convRef.current;
      try {
        const r = await api<ChatReply>("/api/chat", {
          body: {
            message,
            ...(c ? { conversation_id: c.id } : {}),
            ...(c?.token ? { conversation_token: c.token } : {}),
          },
        });
        if (!c || c.id !== r.conversation_id) {
          const next = { id: r.conversation_id, token: r.conversation_token ?? c?.token };
          saveConversation(storeKey, next);
          startedHere.current = next.id;
          convRef.current = next;
          setConv(next);
        }
        setMessages((prev) => [
          ...prev.map((m) => (m.key === key ? { ...m, state: undefined } : m)),
          {
            key: r.message_id ?? localKey(),
            id: r.message_id,
            role: "assistant",
            text: r.response,
            intent: r.intent_unavailable ? undefined : r.intent,
            confidence: r.confidence,
            agent_type: r.agent_type,
            escalated: r.escalated,
            timestamp: r.timestamp,
          },
        ]);
        if (r.escalated) setStatus("human");
      } catch (e) {
        const err = e instanceof ApiError ? e : null;
        // Kept by the server, waiting for the queue: not a failed send.
        const kept = err?.code === "escalation_unavailable";
        setMessages((prev) =>
          prev.map((m) => (m.key === key ? { ...m, state: kept ? undefined : "failed" } : m)),
        );
        if (err?.status === 429 || err?.retryAfter) {
          const wait = err.retryAfter ?? 5;
          setCooldownUntil(Date.now() + wait * 1000);
          setNow(Date.now());
        }
        if (err?.status === 404 && c) {
          // The conversation is gone: the next try starts a new one.
          saveConversation(storeKey, null);
          convRef.current = null;
          setConv(null);
          setStatus("ai");
          setError("We couldn't find your earlier conversation, so we'll start a new one. Please send your message again.");
        } else {
          setError(friendlyError(e));
        }
      } finally {
        setSending(false);
        inputRef.current?.focus();
      }
    },
    [sending, storeKey],
  );

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (waitLeft > 0) return;
    void send(draft);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      if (waitLeft > 0) return;
      void send(draft);
    }
  };

  const newConversation = () => {
    saveConversation(storeKey, null);
    convRef.current = null;
    setConv(null);
    setMessages([]);
    setStatus("ai");
    setError(null);
    setNotice(null);
    inputRef.current?.focus();
  };

  const tooLong = draft.length > MAX_CHARS;
  const canSend = draft.trim().length > 0 && !tooLong && !sending && waitLeft === 0;

  return (
    <div className="chat-page">
      <div className="chat-header">
        <div>
          <h1>Chat with support</h1>
          <p className="page-subtitle">
            Our assistant answers right away; a person steps in when needed.
          </p>
        </div>
        {messages.length > 0 && (
          <Button variant="secondary" size="sm" onClick={newConversation}>
            New conversation
          </Button>
        )}
      </div>

      {!user && (
        <Alert tone="info" className="chat-guest">
          You're chatting as a guest. <Link to="/login">Sign in</Link> or{" "}
          <Link to="/signup">create an account</Link> to keep your conversations.
        </Alert>
      )}

      {status === "human" && (
        <div className="escalation-banner" role="status" data-testid="escalation-banner">
          <svg className="escalation-icon" viewBox="0 0 24 24" aria-hidden="true">
            <circle cx="12" cy="8" r="4" />
            <path d="M4 21c0-4.4 3.6-7 8-7s8 2.6 8 7z" />
          </svg>
          <div>
            <p className="escalation-title">A member of our support team has been asked to help</p>
            <p>They'll reply right here — keep this page open or come back later.</p>
          </div>
          {streamUrl && <LiveDot status={streamStatus} />}
        </div>
      )}

      <div
        className="chat-log"
        ref={listRef}
        role="log"
        aria-live="polite"
        aria-relevant="additions"
        aria-label="Conversation"
        aria-busy={loading}
        tabIndex={0}
        onScroll={onLogScroll}
      >
        {loading && messages.length === 0 && <p className="muted center">Loading your conversation…</p>}
        {!loading && messages.length === 0 && (
          <div className="chat-welcome">
            <p className="chat-welcome-title">Hi{user ? `, ${user.username}` : ""}! How can we help?</p>
            <ul className="suggestions" aria-label="Suggested questions">
              {SUGGESTIONS.map((s) => (
                <li key={s}>
                  <button type="button" className="chip" onClick={() => void send(s)} disabled={sending}>
                    {s}
                  </button>
                </li>
              ))}
            </ul>
          </div>
        )}
        {messages.map((m) => (
          <MessageBubble key={m.key} m={m} onRetry={() => void send(m.text, m.key)} />
        ))}
        {sending && (
          <div className="msg msg-assistant" data-testid="typing">
            <div className="bubble typing">
              <span className="sr-only">
                {status === "human" ? "Sending your message…" : "The assistant is typing…"}
              </span>
              <span className="dot" aria-hidden="true" />
              <span className="dot" aria-hidden="true" />
              <span className="dot" aria-hidden="true" />
            </div>
          </div>
        )}
      </div>

      {notice && (
        <Alert tone="success" onDismiss={() => setNotice(null)}>
          {notice}
        </Alert>
      )}
      {error && (
        <Alert tone="error" onDismiss={() => setError(null)}>
          {error}
          {waitLeft > 0 && <span className="countdown"> ({waitLeft}s)</span>}
        </Alert>
      )}

      <form className="composer" onSubmit={onSubmit}>
        <label htmlFor="chat-input" className="sr-only">
          Your message
        </label>
        <textarea
          id="chat-input"
          ref={inputRef}
          rows={1}
          placeholder={status === "human" ? "Add a message for our team…" : "Type your message…"}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKeyDown}
          aria-describedby="chat-input-hint"
          aria-invalid={tooLong || undefined}
          autoFocus
        />
        <Button type="submit" disabled={!canSend} aria-label="Send message">
          {waitLeft > 0 ? `Wait ${waitLeft}s` : "Send"}
        </Button>
        <p id="chat-input-hint" className={`composer-hint ${tooLong ? "over" : ""}`}>
          {draft.length > MAX_CHARS * 0.9
            ? `${draft.length} / ${MAX_CHARS} characters`
            : "Enter to send · Shift+Enter for a new line"}
        </p>
      </form>
    </div>
  );
}

const WHO: Record<string, string> = { user: "You", assistant: "Assistant", agent: "Support team" };

function MessageBubble({ m, onRetry }: { m: UiMessage; onRetry: () => void }) {
  const showIntent = m.role === "assistant" && m.intent && m.agent_type !== "human";
  return (
    <div className={`msg msg-${m.role}`} data-testid={`msg-${m.role}`}>
      <div className="msg-meta">
        <span className="msg-who">{WHO[m.role] ?? m.role}</span>
        {m.timestamp && <time dateTime={m.timestamp}>{formatTime(m.timestamp)}</time>}
      </div>
      <div className="bubble">{m.text}</div>
      {showIntent && (
        <div className="msg-intent" data-testid="intent">
          <span className="sr-only">Detected topic: </span>
          {humanize(m.intent)}
          {m.confidence !== undefined && m.confidence > 0 && (
            <span title="How sure the assistant is about the topic"> · {Math.round(m.confidence * 100)}%</span>
          )}
        </div>
      )}
      {m.state === "sending" && <div className="msg-state">Sending…</div>}
      {m.state === "failed" && (
        <div className="msg-state failed">
          Not sent.{" "}
          <button type="button" className="link-button" onClick={onRetry}>
            Try again
          </button>
        </div>
      )}
    </div>
  );
}
