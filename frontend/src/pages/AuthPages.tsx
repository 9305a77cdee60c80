// Sign in and create an account (a customer account; agents and admins are
// made by an admin on the Users page).
import { useState } from "react";
import type { FormEvent } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router";
import { friendlyError } from "../api/client";
import { homeFor, useAuth } from "../auth/AuthContext";
import { Alert, Button, TextField } from "../components/ui";

const USERNAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$/;

export function validateUsername(u: string): string | null {
  if (u.length < 3 || u.length > 32) return "Use 3 to 32 characters.";
  if (!USERNAME_RE.test(u))
    return "Use letters, digits, dots, dashes or underscores, starting with a letter or digit.";
  return null;
}

export function validatePassword(p: string): string | null {
  if (p.length < 8) return "Use at least 8 characters.";
  if (p.length > 128) return "Use at most 128 characters.";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) return "Control characters are not allowed.";
  return null;
}

function useRedirectTarget(): string | null {
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from;
  return from && from.startsWith("/") && !from.startsWith("//") ? from : null;
}

export function LoginPage() {
  const { user, login, notice, clearNotice } = useAuth();
  const navigate = useNavigate();
  const target = useRedirectTarget();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (user && !busy) return <Navigate to={target ?? homeFor(user)} replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!username || !password) {
      setError("Enter your username and password.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const u = await login(username.trim(), password);
      clearNotice();
      navigate(target ?? homeFor(u), { replace: true });
    } catch (err) {
      setError(friendlyError(err));
      setBusy(false);
    }
  };

  return (
    <div className="auth-page">
      <form className="auth-card card" onSubmit={submit} noValidate aria-labelledby="login-title">
        <h1 id="login-title">Sign in</h1>
        <p className="muted">Customers, support agents and administrators sign in here.</p>
        {notice && <Alert tone="warning">{notice}</Alert>}
        {error && <Alert tone="error">{error}</Alert>}
        <TextField
          label="Username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          required
          autoFocus
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <TextField
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <Button type="submit" busy={busy} className="btn-block">
          Sign in
        </Button>
        <p className="auth-alt">
          New here? <Link to="/signup">Create an account</Link>
          <span aria-hidden="true"> · </span>
          <Link to="/chat">Chat as a guest</Link>
        </p>
      </form>
    </div>
  );
}

export function SignupPage() {
  const { user, signup } = useAuth();
  const navigate = useNavigate();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (user && !busy) return <Navigate to={homeFor(user)} replace />;

  const uErr = touched ? validateUsername(username.trim()) : null;
  const pErr = touched ? validatePassword(password) : null;
  const cErr = touched && confirm !== password ? "The passwords don't match." : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (validateUsername(username.trim()) || validatePassword(password) || confirm !== password) {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signup(username.trim(), password);
      navigate("/chat", { replace: true });
    } catch (err) {
      setError(friendlyError(err));
      setBusy(false);
    }
  };

  return (
    <div className="auth-page">
      <form className="auth-card card" onSubmit={submit} noValidate aria-labelledby="signup-title">
        <h1 id="signup-title">Create your account</h1>
        <p className="muted">Keep your conversations with us in one place.</p>
        {error && <Alert tone="error">{error}</Alert>}
        <TextField
          label="Username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          required
          autoFocus
          hint="3–32 letters, digits, dots, dashes or underscores."
          error={uErr}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <TextField
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          hint="At least 8 characters."
          error={pErr}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <TextField
          label="Confirm password"
          name="confirm"
          type="password"
          autoComplete="new-password"
          required
          error={cErr}
          value={confirm}
          onChange={(e) => setConfirm(e.target.value)}
        />
        <Button type="submit" busy={busy} className="btn-block">
          Create account
        </Button>
        <p className="auth-alt">
          Already have an account? <Link to="/login">Sign in</Link>
        </p>
      </form>
    </div>
  );
}
