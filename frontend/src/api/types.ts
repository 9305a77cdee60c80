// Shapes of the HTTP API (docs/api.md, docs/openapi.json).

export type Role = "user" | "agent" | "admin";

export interface User {
  id: string;
  username: string;
  role: Role;
  created_at: string;
  disabled: boolean;
}

export interface AuthReply {
  access_token: string;
  token_type: string;
  expires_in: number;
  user: User;
}

export interface ChatReply {
  response: string;
  intent: string;
  confidence: number;
  agent_type: string;
  escalated: boolean;
  escalation_reason?: string;
  intent_unavailable?: boolean;
  timestamp: string;
  conversation_id: string;
  message_id: string;
  conversation_token?: string;
}

export type MessageRole = "user" | "assistant" | "agent";

export interface ChatMessage {
  id?: string;
  role: MessageRole;
  text: string;
  intent?: string;
  confidence?: number;
  agent_type?: string;
  escalated?: boolean;
  timestamp?: string;
}

export interface HistoryReply {
  conversation_id: string;
  status: "ai" | "human" | string;
  messages: ChatMessage[];
}

/** event: message on /api/chat/stream */
export interface HumanReplyEvent {
  role: "agent";
  text: string;
  conversation_id: string;
  timestamp: string;
  handed_back: boolean;
}

export type EscalationStatus = "pending" | "claimed" | "resolved";

export interface Escalation {
  id: string;
  conversation_id: string;
  customer_message: string;
  ai_draft: string;
  intent: string;
  confidence: number;
  reason: string;
  status: EscalationStatus;
  claimed_by?: string;
  created_at: string;
  age_seconds: number;
  sla_breached: boolean;
  resolved_at?: string;
  resolution?: "approved" | "edited" | "rejected" | string;
  final_reply?: string;
  resolved_by?: string;
  handed_back?: boolean;
  knowledge_ids: string[];
}

export interface EscalationDetail extends Escalation {
  transcript?: ChatMessage[];
}

export interface EscalationList {
  escalations: Escalation[];
  total: number;
  limit: number;
  offset: number;
}

/** event: escalation on /api/hitl/stream */
export interface QueueEvent {
  kind: "created" | "claimed" | "released" | "resolved";
  escalation: Escalation;
}

export interface UserList {
  users: User[];
  total: number;
  limit: number;
  offset: number;
}

// ---- monitoring (fields may be missing when there is no data) ----------

export interface AgentPerformance {
  total_calls?: number;
  errors?: number;
  escalations?: number;
  avg_response_time?: number;
  p50_ms?: number;
  p95_ms?: number;
  p99_ms?: number;
  calls_per_minute?: number;
}

export interface Metrics {
  agent_performance?: Record<string, AgentPerformance>;
  intents?: {
    distribution?: Record<string, number>;
    avg_confidence?: Record<string, number>;
  };
  escalations?: {
    created?: number;
    pending?: number;
    claimed?: number;
    resolved?: number;
    avg_first_response_s?: number;
    sla_breaches?: number;
  };
  chats?: number;
  deflection_rate?: number;
  guardrails?: { blocks?: Record<string, number> };
  system_health?: {
    status?: "healthy" | "degraded" | string;
    uptime_seconds?: number;
    services?: Record<string, { instances?: number; uptime_seconds?: number }>;
  };
  reporting?: { dropped?: number };
}

export interface DashboardPoint {
  t: number;
  chats?: number;
  escalations?: number;
  errors?: number;
  latency_p95_ms?: Record<string, number>;
}

export interface Dashboard {
  window_s?: number;
  step_s?: number;
  series?: DashboardPoint[];
  intents?: Record<string, number>;
}

export interface TraceSummary {
  trace_id: string;
  name?: string;
  start_ms?: number;
  duration_ms?: number;
  status?: "ok" | "error" | string;
  services?: string[];
  span_count?: number;
}

export interface Span {
  span_id: string;
  parent_span_id?: string;
  name?: string;
  service?: string;
  instance?: string;
  start_ms?: number;
  duration_ms?: number;
  status?: string;
  attributes?: Record<string, unknown>;
  children?: Span[];
}

export interface TraceDetail {
  trace_id: string;
  spans?: Span[];
}
