// The frame of every page: a skip link, the header with the navigation
// for the signed-in person's role, and the main region.
import { useEffect, useRef } from "react";
import { Link, NavLink, Navigate, Outlet, useLocation, useNavigate } from "react-router";
import type { ReactNode } from "react";
import { hasRole, useAuth } from "../auth/AuthContext";
import type { Role } from "../api/types";

interface NavItem {
  to: string;
  label: string;
  role: Role | null;
}

const NAV: NavItem[] = [
  { to: "/chat", label: "Chat", role: null },
  { to: "/review", label: "Review queue", role: "agent" },
  { to: "/monitoring", label: "Monitoring", role: "admin" },
  { to: "/users", label: "Users", role: "admin" },
];

const ROLE_LABEL: Record<Role, string> = { user: "Customer", agent: "Agent", admin: "Admin" };

export function Layout() {
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);

  // Move focus to the page after client-side navigation, as a full page
  // load would, so screen-reader and keyboard users start at the content.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    // Unless the new page put focus somewhere itself (a form's first field).
    if (main.current && !main.current.contains(document.activeElement)) {
      main.current.focus({ preventScroll: true });
    }
  }, [location.pathname]);

  const items = NAV.filter((n) => n.role === null || hasRole(user, n.role));
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <Link to="/" className="brand" aria-label="Support home">
            <span className="brand-mark" aria-hidden="true" />
            <span>Support</span>
          </Link>
          <nav aria-label="Main" className="nav">
            <ul>
              {items.map((n) => (
                <li key={n.to}>
                  <NavLink to={n.to} className={({ isActive }) => (isActive ? "active" : undefined)}>
                    {n.label}
                  </NavLink>
                </li>
              ))}
            </ul>
          </nav>
          <div className="account">
            {user ? (
              <>
                <span className="account-name" data-testid="signed-in-as">
                  <span className="sr-only">Signed in as </span>
                  {user.username}
                  <span className="account-role">{ROLE_LABEL[user.role]}</span>
                </span>
                <button
                  type="button"
                  className="btn btn-ghost btn-sm"
                  onClick={() => {
                    logout();
                    navigate("/login");
                  }}
                >
                  Sign out
                </button>
              </>
            ) : (
              <>
                <Link className="btn btn-ghost btn-sm" to="/login">
                  Sign in
                </Link>
                <Link className="btn btn-primary btn-sm" to="/signup">
                  Create account
                </Link>
              </>
            )}
          </div>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1} className="main">
        <Outlet />
      </main>
    </div>
  );
}

/** Only for signed-in people of at least `role`; others go to sign in. */
export function RequireRole({ role, children }: { role: Role; children: ReactNode }) {
  const { user } = useAuth();
  const location = useLocation();
  if (!user) {
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  }
  if (!hasRole(user, role)) {
    return (
      <div className="narrow">
        <h1>Not available</h1>
        <p>This page is for {role === "admin" ? "administrators" : "support agents"}.</p>
        <p>
          <Link to="/">Go to your start page</Link>
        </p>
      </div>
    );
  }
  return <>{children}</>;
}
