// Building blocks shared by every screen, so they look and behave alike.
import { forwardRef, useId } from "react";
import type {
  ButtonHTMLAttributes,
  InputHTMLAttributes,
  ReactNode,
  Ref,
  SelectHTMLAttributes,
  TextareaHTMLAttributes,
} from "react";

type Variant = "primary" | "secondary" | "ghost" | "danger";

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: Variant;
  size?: "sm" | "md";
  busy?: boolean;
}

export const Button = forwardRef<HTMLButtonElement, ButtonProps>(function Button(
  { variant = "primary", size = "md", busy = false, className = "", children, disabled, ...rest },
  ref,
) {
  return (
    <button
      ref={ref}
      type="button"
      className={`btn btn-${variant} btn-${size} ${className}`.trim()}
      disabled={disabled || busy}
      aria-busy={busy || undefined}
      {...rest}
    >
      {busy && <span className="spinner spinner-inline" aria-hidden="true" />}
      {children}
    </button>
  );
});

interface FieldShell {
  label: ReactNode;
  hint?: ReactNode;
  error?: string | null;
}

export function TextField({
  label,
  hint,
  error,
  id,
  className = "",
  ...rest
}: FieldShell & InputHTMLAttributes<HTMLInputElement>) {
  const auto = useId();
  const fid = id ?? auto;
  const hintId = hint ? `${fid}-hint` : undefined;
  const errId = error ? `${fid}-error` : undefined;
  return (
    <div className={`field ${className}`.trim()}>
      <label htmlFor={fid}>{label}</label>
      <input
        id={fid}
        aria-invalid={error ? true : undefined}
        aria-describedby={[hintId, errId].filter(Boolean).join(" ") || undefined}
        {...rest}
      />
      {hint && (
        <p id={hintId} className="field-hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={errId} className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

export function TextArea({
  label,
  hint,
  error,
  id,
  className = "",
  ref,
  ...rest
}: FieldShell & TextareaHTMLAttributes<HTMLTextAreaElement> & { ref?: Ref<HTMLTextAreaElement> }) {
  const auto = useId();
  const fid = id ?? auto;
  const hintId = hint ? `${fid}-hint` : undefined;
  const errId = error ? `${fid}-error` : undefined;
  return (
    <div className={`field ${className}`.trim()}>
      <label htmlFor={fid}>{label}</label>
      <textarea
        id={fid}
        ref={ref}
        aria-invalid={error ? true : undefined}
        aria-describedby={[hintId, errId].filter(Boolean).join(" ") || undefined}
        {...rest}
      />
      {hint && (
        <p id={hintId} className="field-hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={errId} className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

export function SelectField({
  label,
  hint,
  id,
  className = "",
  children,
  ...rest
}: FieldShell & SelectHTMLAttributes<HTMLSelectElement>) {
  const auto = useId();
  const fid = id ?? auto;
  return (
    <div className={`field ${className}`.trim()}>
      <label htmlFor={fid}>{label}</label>
      <select id={fid} {...rest}>
        {children}
      </select>
      {hint && <p className="field-hint">{hint}</p>}
    </div>
  );
}

export function Checkbox({
  label,
  hint,
  id,
  ...rest
}: { label: ReactNode; hint?: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  const auto = useId();
  const fid = id ?? auto;
  return (
    <div className="checkbox">
      <input type="checkbox" id={fid} {...rest} />
      <label htmlFor={fid}>
        {label}
        {hint && <span className="field-hint"> {hint}</span>}
      </label>
    </div>
  );
}

type Tone = "info" | "success" | "warning" | "error";

export function Alert({
  tone = "info",
  title,
  children,
  onDismiss,
  className = "",
}: {
  tone?: Tone;
  title?: ReactNode;
  children?: ReactNode;
  onDismiss?: () => void;
  className?: string;
}) {
  // Errors interrupt; the rest is announced politely.
  const role = tone === "error" ? "alert" : "status";
  return (
    <div className={`alert alert-${tone} ${className}`.trim()} role={role}>
      <div className="alert-body">
        {title && <p className="alert-title">{title}</p>}
        {children && <div>{children}</div>}
      </div>
      {onDismiss && (
        <button type="button" className="alert-dismiss" onClick={onDismiss} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

export function Spinner({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

const ICONS = {
  dot: <circle cx="12" cy="12" r="6" fill="none" strokeDasharray="3 3" />,
  check: <path d="M5 12.5l4.5 4.5L19 7.5" fill="none" />,
  list: <path d="M5 7h14M5 12h14M5 17h9" fill="none" />,
  chart: <path d="M4 19h16M6 16l4-5 3 3 5-7" fill="none" />,
};

export function EmptyState({
  title,
  children,
  icon = "dot",
}: {
  title: ReactNode;
  children?: ReactNode;
  icon?: keyof typeof ICONS;
}) {
  return (
    <div className="empty">
      <svg className="empty-icon" viewBox="0 0 24 24" aria-hidden="true">
        {ICONS[icon]}
      </svg>
      <p className="empty-title">{title}</p>
      {children && <div className="empty-text">{children}</div>}
    </div>
  );
}

export function Badge({
  tone = "neutral",
  children,
  title,
}: {
  tone?: "neutral" | "info" | "success" | "warning" | "danger" | "accent";
  children: ReactNode;
  title?: string;
}) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

export function PageHeader({
  title,
  subtitle,
  actions,
}: {
  title: ReactNode;
  subtitle?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle && <p className="page-subtitle">{subtitle}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </header>
  );
}

export function Card({
  title,
  actions,
  children,
  className = "",
  id,
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  id?: string;
}) {
  const auto = useId();
  const hid = title ? `${id ?? auto}-title` : undefined;
  return (
    <section className={`card ${className}`.trim()} aria-labelledby={hid} id={id}>
      {(title || actions) && (
        <div className="card-header">
          {title && (
            <h2 id={hid} className="card-title">
              {title}
            </h2>
          )}
          {actions && <div className="card-actions">{actions}</div>}
        </div>
      )}
      {children}
    </section>
  );
}

/** A live indicator for a server-sent event stream. */
export function LiveDot({ status }: { status: "connecting" | "open" | "reconnecting" | "off" }) {
  const text =
    status === "open"
      ? "Live"
      : status === "connecting"
        ? "Connecting…"
        : status === "reconnecting"
          ? "Reconnecting…"
          : "Offline";
  return (
    <span className={`live live-${status}`} data-testid="live-status">
      <span className="live-dot" aria-hidden="true" />
      {text}
    </span>
  );
}

/** A wide table that scrolls sideways on small screens, reachable by keyboard. */
export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
