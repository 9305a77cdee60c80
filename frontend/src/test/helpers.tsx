// Test helpers: a fake HTTP API (fetch), a fake EventSource, and the app
// rendered at a path, signed in as someone or not.
import { render } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { vi } from "vitest";
import { AppRoutes, Providers, makeQueryClient } from "../App";
import type { Role, User } from "../api/types";

export interface FakeReply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: { method: string; url: URL; body: unknown }) => FakeReply | Promise<FakeReply>;

export interface FakeApi {
  calls: { method: string; path: string; query: URLSearchParams; body: unknown; auth: string | null }[];
  on(method: string, path: string, h: Handler | FakeReply): void;
}

/** Replace fetch: "METHOD /path" -> reply; anything else is a 404. */
export function fakeApi(): FakeApi {
  const routes = new Map<string, Handler>();
  const api: FakeApi = {
    calls: [],
    on(method, path, h) {
      routes.set(`${method} ${path}`, typeof h === "function" ? h : () => h);
    },
  };
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(String(input), "http://localhost");
      const method = init?.method ?? "GET";
      const body = init?.body ? JSON.parse(String(init.body)) : undefined;
      const headers = (init?.headers ?? {}) as Record<string, string>;
      api.calls.push({ method, path: url.pathname, query: url.searchParams, body, auth: headers.Authorization ?? null });
      const h = routes.get(`${method} ${url.pathname}`);
      const r: FakeReply = h
        ? await h({ method, url, body })
        : { status: 404, body: { error: "not_found", detail: "no such path" } };
      return new Response(r.body === undefined ? null : JSON.stringify(r.body), {
        status: r.status ?? 200,
        headers: { "Content-Type": "application/json", ...(r.headers ?? {}) },
      });
    }),
  );
  return api;
}

/** A stand-in for the browser's EventSource that tests drive by hand. */
export class FakeEventSource {
  static instances: FakeEventSource[] = [];
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  readonly url: string;
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  private listeners = new Map<string, ((ev: MessageEvent) => void)[]>();

  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }
  addEventListener(name: string, fn: (ev: MessageEvent) => void) {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn]);
  }
  close() {
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }
  emit(name: string, data: unknown) {
    const ev = new MessageEvent(name, { data: JSON.stringify(data) });
    for (const fn of this.listeners.get(name) ?? []) fn(ev);
  }
  static latest(match?: string): FakeEventSource | undefined {
    const all = FakeEventSource.instances.filter((e) => e.readyState !== 2 && (!match || e.url.includes(match)));
    return all[all.length - 1];
  }
}

export function installFakeEventSource() {
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
}

export function makeUser(role: Role, username = `${role}1`): User {
  return { id: `u_${username}`, username, role, created_at: "2025-01-01T00:00:00Z", disabled: false };
}

/** Store a session as the app keeps it, so it starts signed in. */
export function signIn(user: User, token = `tok-${user.username}`) {
  localStorage.setItem(
    "support.session",
    JSON.stringify({ token, user, expiresAt: Date.now() + 3600_000 }),
  );
}

export function renderApp(path: string) {
  const client = makeQueryClient();
  client.setDefaultOptions({ queries: { retry: false, staleTime: 0 } });
  return render(
    <Providers client={client}>
      <MemoryRouter initialEntries={[path]}>
        <AppRoutes />
      </MemoryRouter>
    </Providers>,
  );
}
