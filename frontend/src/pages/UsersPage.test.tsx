import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { fakeApi, makeUser, renderApp, signIn } from "../test/helpers";

describe("users", () => {
  it("lists accounts and creates an agent", async () => {
    const f = fakeApi();
    signIn(makeUser("admin", "root"));
    const users = [makeUser("admin", "root"), makeUser("user", "alice")];
    f.on("GET", "/api/admin/users", () => ({ body: { users, total: users.length, limit: 25, offset: 0 } }));
    f.on("POST", "/api/admin/users", ({ body }) => {
      const b = body as { username: string; role: "agent" };
      const u = makeUser(b.role, b.username);
      users.push(u);
      return { status: 201, body: u };
    });
    renderApp("/users");
    const table = await screen.findByTestId("users-table");
    expect(within(table).getByText("alice")).toBeInTheDocument();
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Username"), "sam");
    await user.type(screen.getByLabelText("Initial password"), "agent-password-1");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByText(/created\. Share the password/)).toHaveTextContent("Agent sam created");
    expect(f.calls.find((c) => c.method === "POST")!.body).toEqual({
      username: "sam",
      password: "agent-password-1",
      role: "agent",
    });
    await waitFor(() => expect(within(screen.getByTestId("users-table")).getByText("sam")).toBeInTheDocument());
  });

  it("says when a username is taken", async () => {
    const f = fakeApi();
    signIn(makeUser("admin", "root"));
    f.on("GET", "/api/admin/users", { body: { users: [], total: 0, limit: 25, offset: 0 } });
    f.on("POST", "/api/admin/users", { status: 409, body: { error: "username_taken", detail: "this username is taken" } });
    renderApp("/users");
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Username"), "root");
    await user.type(screen.getByLabelText("Initial password"), "agent-password-1");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("This username is taken.");
  });
});
