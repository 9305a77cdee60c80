// The HTTP API's client: JSON in and out, the bearer token, and every error
// as an ApiError carrying the server's {"error", "detail"} and Retry-After.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  /** Seconds to wait before trying again (Retry-After), when given. */
  readonly retryAfter?: number;
  /** The whole JSON body of the error, for fields beyond error/detail. */
  readonly body: Record<string, unknown>;

  constructor(
    status: number,
    code: string,
    detail: string,
    retryAfter?: number,
    body: Record<string, unknown> = {},
  ) {
    super(detail || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.body = body;
  }
}

/** Status 0: the server could not be reached at all. */
export const NETWORK_ERROR = 0;

let token: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setToken(t: string | null): void {
  token = t;
}

export function getToken(): string | null {
  return token;
}

/** Called when an authenticated request gets 401 (the session is over). */
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const s = Number(value);
  if (Number.isFinite(s) && s >= 0) return Math.ceil(s);
  const when = Date.parse(value);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  signal?: AbortSignal;
  /** Send no bearer token even when signed in. */
  anonymous?: boolean;
}

export function buildQuery(query: RequestOptions["query"]): string {
  if (!query) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const sentToken = opts.anonymous ? null : token;
  if (sentToken) headers.Authorization = `Bearer ${sentToken}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(path + buildQuery(opts.query), {
      method: opts.method ?? (body !== undefined ? "POST" : "GET"),
      headers,
      body,
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(NETWORK_ERROR, "network", "The server could not be reached.");
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const obj = (data && typeof data === "object" ? data : {}) as Record<string, unknown>;
    const err = new ApiError(
      res.status,
      typeof obj.error === "string" ? obj.error : `http_${res.status}`,
      typeof obj.detail === "string" ? obj.detail : res.statusText,
      parseRetryAfter(res.headers.get("Retry-After")),
      obj,
    );
    if (res.status === 401 && sentToken && onUnauthorized) onUnauthorized();
    throw err;
  }
  return data as T;
}

/** A sentence a person can act on, for any error a request may end with. */
export function friendlyError(e: unknown): string {
  if (!(e instanceof ApiError)) {
    return "Something went wrong. Please try again.";
  }
  const wait = e.retryAfter
    ? ` Please try again in ${e.retryAfter} second${e.retryAfter === 1 ? "" : "s"}.`
    : " Please try again shortly.";
  switch (e.status) {
    case NETWORK_ERROR:
      return "We can't reach the server. Check your connection and try again.";
    case 401:
      return e.code === "invalid_credentials"
        ? "That username and password don't match."
        : "Your session has ended. Please sign in again.";
    case 403:
      return e.code === "account_disabled"
        ? "This account is disabled."
        : "You don't have permission to do that.";
    case 404:
      return e.detail ? capitalize(e.detail) + "." : "Not found.";
    case 409:
      return e.detail ? capitalize(e.detail) + "." : "Someone else changed this first.";
    case 413:
      return "That's too long to send.";
    case 429:
      return `You're sending requests too quickly.${wait}`;
    case 503:
      return e.code === "escalation_unavailable"
        ? `Your message is saved, but our team's queue is unavailable right now.${wait}`
        : `The service is busy right now.${wait}`;
    default:
      if (e.status >= 500) return `The server had a problem.${wait}`;
      return e.detail ? capitalize(e.detail) + "." : "That request was not accepted.";
  }
}

function capitalize(s: string): string {
  const t = s.replace(/\.$/, "");
  return t.charAt(0).toUpperCase() + t.slice(1);
}
