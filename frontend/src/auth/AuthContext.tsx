// Who is signed in: the token and user, kept in localStorage so a reload
// keeps the session; checked against /api/auth/me on start; dropped on the
// first 401 of an authenticated request.
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";
import { api, setToken, setUnauthorizedHandler } from "../api/client";
import type { AuthReply, Role, User } from "../api/types";

const STORAGE_KEY = "support.session";

interface Session {
  token: string;
  user: User;
  expiresAt: number;
}

export interface AuthState {
  user: User | null;
  token: string | null;
  /** Set when the session ended by itself (expired or revoked). */
  notice: string | null;
  login(username: string, password: string): Promise<User>;
  signup(username: string, password: string): Promise<User>;
  logout(): void;
  clearNotice(): void;
}

const AuthContext = createContext<AuthState | null>(null);

function load(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (!s.token || !s.user || s.expiresAt <= Date.now()) {
      localStorage.removeItem(STORAGE_KEY);
      return null;
    }
    return s;
  } catch {
    return null;
  }
}

function initialSession(): Session | null {
  const s = load();
  // Set before the first render so the first requests carry the token.
  setToken(s?.token ?? null);
  return s;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(initialSession);
  const [notice, setNotice] = useState<string | null>(null);

  const save = useCallback((s: Session | null) => {
    setToken(s?.token ?? null);
    if (s) localStorage.setItem(STORAGE_KEY, JSON.stringify(s));
    else localStorage.removeItem(STORAGE_KEY);
    setSession(s);
  }, []);

  const accept = useCallback(
    (r: AuthReply): User => {
      save({
        token: r.access_token,
        user: r.user,
        expiresAt: Date.now() + r.expires_in * 1000,
      });
      setNotice(null);
      return r.user;
    },
    [save],
  );

  const login = useCallback(
    async (username: string, password: string) =>
      accept(
        await api<AuthReply>("/api/auth/login", {
          body: { username, password },
          anonymous: true,
        }),
      ),
    [accept],
  );

  const signup = useCallback(
    async (username: string, password: string) =>
      accept(
        await api<AuthReply>("/api/auth/signup", {
          body: { username, password },
          anonymous: true,
        }),
      ),
    [accept],
  );

  const logout = useCallback(() => save(null), [save]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      save(null);
      setNotice("Your session has ended. Please sign in again.");
    });
    return () => setUnauthorizedHandler(null);
  }, [save]);

  // The stored user may have changed role or been removed: ask once.
  const startToken = session?.token;
  useEffect(() => {
    if (!startToken) return;
    let live = true;
    api<User>("/api/auth/me")
      .then((user) => {
        if (!live) return;
        setSession((s) => {
          if (!s || s.token !== startToken) return s;
          const next = { ...s, user };
          localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
          return next;
        });
      })
      .catch(() => {
        /* 401 is handled above; other errors keep the session */
      });
    return () => {
      live = false;
    };
    // Only on start: later sessions come from login/signup with a fresh user.
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  // End the session when the token expires while the page is open.
  useEffect(() => {
    if (!session) return;
    const left = session.expiresAt - Date.now();
    const t = setTimeout(
      () => {
        save(null);
        setNotice("Your session has ended. Please sign in again.");
      },
      Math.max(0, Math.min(left, 2 ** 31 - 1)),
    );
    return () => clearTimeout(t);
  }, [session, save]);

  const value = useMemo<AuthState>(
    () => ({
      user: session?.user ?? null,
      token: session?.token ?? null,
      notice,
      login,
      signup,
      logout,
      clearNotice: () => setNotice(null),
    }),
    [session, notice, login, signup, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth outside AuthProvider");
  return ctx;
}

const RANK: Record<Role, number> = { user: 0, agent: 1, admin: 2 };

/** Agents may do what customers do, admins what agents do. */
export function hasRole(user: User | null, role: Role): boolean {
  return !!user && RANK[user.role] >= RANK[role];
}

/** The page a signed-in person starts on. */
export function homeFor(user: User | null): string {
  if (!user) return "/chat";
  if (user.role === "admin") return "/monitoring";
  if (user.role === "agent") return "/review";
  return "/chat";
}
