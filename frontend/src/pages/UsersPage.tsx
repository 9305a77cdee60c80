// Admin: the accounts, by role, and a form to create agents and admins.
import { useState } from "react";
import type { FormEvent } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, friendlyError } from "../api/client";
import type { Role, User, UserList } from "../api/types";
import { Alert, Badge, Button, Card, EmptyState, PageHeader, SelectField, Spinner, TableWrap, TextField } from "../components/ui";
import { formatDateTime } from "../lib/format";
import { validatePassword, validateUsername } from "./AuthPages";

const PAGE = 25;
const ROLE_LABEL: Record<Role, string> = { user: "Customer", agent: "Agent", admin: "Admin" };
const ROLE_TONE: Record<Role, "neutral" | "info" | "accent"> = { user: "neutral", agent: "info", admin: "accent" };

export function UsersPage() {
  const [role, setRole] = useState<"" | Role>("");
  const [offset, setOffset] = useState(0);
  const users = useQuery({
    queryKey: ["users", role, offset],
    queryFn: ({ signal }) =>
      api<UserList>("/api/admin/users", { query: { role: role || undefined, limit: PAGE, offset }, signal }),
    placeholderData: keepPreviousData,
  });
  const total = users.data?.total ?? 0;

  return (
    <div className="users">
      <PageHeader title="Users" subtitle="Customers sign up themselves; create support agents and admins here." />
      <div className="users-layout">
        <Card title="Accounts">
          <div className="filters filters-inline">
            <SelectField
              label="Show"
              value={role}
              onChange={(e) => {
                setRole(e.target.value as "" | Role);
                setOffset(0);
              }}
            >
              <option value="">All roles</option>
              <option value="user">Customers</option>
              <option value="agent">Agents</option>
              <option value="admin">Admins</option>
            </SelectField>
          </div>
          {users.isPending && <Spinner label="Loading users…" />}
          {users.isError && <Alert tone="error">{friendlyError(users.error)}</Alert>}
          {users.isSuccess && users.data.users.length === 0 && <EmptyState title="No accounts with this role" />}
          {users.data && users.data.users.length > 0 && (
            <>
              <TableWrap label="Accounts">
                <table className="table" data-testid="users-table">
                  <thead>
                    <tr>
                      <th scope="col">Username</th>
                      <th scope="col">Role</th>
                      <th scope="col">Created</th>
                      <th scope="col">State</th>
                    </tr>
                  </thead>
                  <tbody>
                    {users.data.users.map((u: User) => (
                      <tr key={u.id}>
                        <th scope="row">{u.username}</th>
                        <td>
                          <Badge tone={ROLE_TONE[u.role]}>{ROLE_LABEL[u.role] ?? u.role}</Badge>
                        </td>
                        <td>{formatDateTime(u.created_at)}</td>
                        <td>{u.disabled ? <Badge tone="danger">Disabled</Badge> : <span className="muted">Active</span>}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
              <nav className="pager" aria-label="Pages">
                <Button variant="secondary" size="sm" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
                  Previous
                </Button>
                <span className="muted">
                  {offset + 1}–{Math.min(offset + PAGE, total)} of {total}
                </span>
                <Button variant="secondary" size="sm" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
                  Next
                </Button>
              </nav>
            </>
          )}
        </Card>
        <CreateUser />
      </div>
    </div>
  );
}

function CreateUser() {
  const qc = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("agent");
  const [touched, setTouched] = useState(false);
  const [created, setCreated] = useState<User | null>(null);

  const create = useMutation({
    mutationFn: () => api<User>("/api/admin/users", { body: { username: username.trim(), password, role } }),
    onSuccess: (u) => {
      setCreated(u);
      setUsername("");
      setPassword("");
      setTouched(false);
      void qc.invalidateQueries({ queryKey: ["users"] });
    },
  });

  const uErr = touched ? validateUsername(username.trim()) : null;
  const pErr = touched ? validatePassword(password) : null;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setCreated(null);
    if (validateUsername(username.trim()) || validatePassword(password)) return;
    create.mutate();
  };

  return (
    <Card title="Create an account">
      <form onSubmit={submit} noValidate className="stack">
        {created && (
          <Alert tone="success">
            {ROLE_LABEL[created.role]} <strong>{created.username}</strong> created. Share the password with them securely.
          </Alert>
        )}
        {create.isError && <Alert tone="error">{friendlyError(create.error)}</Alert>}
        <TextField
          label="Username"
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          value={username}
          error={uErr}
          onChange={(e) => setUsername(e.target.value)}
        />
        <TextField
          label="Initial password"
          type="password"
          autoComplete="new-password"
          value={password}
          error={pErr}
          hint="At least 8 characters."
          onChange={(e) => setPassword(e.target.value)}
        />
        <SelectField label="Role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
          <option value="agent">Support agent</option>
          <option value="admin">Administrator</option>
          <option value="user">Customer</option>
        </SelectField>
        <Button type="submit" busy={create.isPending}>
          Create account
        </Button>
      </form>
    </Card>
  );
}
