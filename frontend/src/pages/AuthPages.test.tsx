import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { fakeApi, makeUser, renderApp, signIn } from "../test/helpers";

const reply = (role: "user" | "agent" | "admin", username: string) => ({
  body: { access_token: "t1", token_type: "bearer", expires_in: 3600, user: makeUser(role, username) },
});

describe("sign in and sign up", () => {
  it("signs an agent in and opens the review queue", async () => {
    const f = fakeApi();
    f.on("POST", "/api/auth/login", reply("agent", "sam"));
    f.on("GET", "/api/hitl/escalations/pending", { body: { escalations: [], total: 0, limit: 200, offset: 0 } });
    renderApp("/login");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Username"), "sam");
    await user.type(screen.getByLabelText("Password"), "agent-password-1{Enter}");
    expect(await screen.findByRole("heading", { name: "Review queue" })).toBeInTheDocument();
    expect(f.calls[0].body).toEqual({ username: "sam", password: "agent-password-1" });
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).getByRole("link", { name: "Review queue" })).toBeInTheDocument();
    expect(within(nav).queryByRole("link", { name: "Monitoring" })).not.toBeInTheDocument();
  });

  it("explains a wrong password", async () => {
    const f = fakeApi();
    f.on("POST", "/api/auth/login", {
      status: 401,
      body: { error: "invalid_credentials", detail: "wrong username or password" },
    });
    renderApp("/login");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Username"), "sam");
    await user.type(screen.getByLabelText("Password"), "nope-nope-1");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("That username and password don't match.");
  });

  it("checks the sign-up form before sending it, then opens the chat", async () => {
    const f = fakeApi();
    f.on("POST", "/api/auth/signup", { status: 201, ...reply("user", "alice") });
    renderApp("/signup");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Username"), "a!");
    await user.type(screen.getByLabelText("Password"), "short");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(screen.getByText("Use 3 to 32 characters.")).toBeInTheDocument();
    expect(screen.getByText("Use at least 8 characters.")).toBeInTheDocument();
    expect(f.calls.filter((c) => c.path === "/api/auth/signup")).toHaveLength(0);

    await user.clear(screen.getByLabelText("Username"));
    await user.type(screen.getByLabelText("Username"), "alice");
    await user.clear(screen.getByLabelText("Password"));
    await user.type(screen.getByLabelText("Password"), "correct-horse-1");
    await user.type(screen.getByLabelText("Confirm password"), "correct-horse-1");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByRole("heading", { name: "Chat with support" })).toBeInTheDocument();
    expect(screen.getByTestId("signed-in-as")).toHaveTextContent("alice");
  });

  it("shows admins every screen in the navigation", async () => {
    fakeApi();
    signIn(makeUser("admin", "root"));
    renderApp("/users");
    const nav = screen.getByRole("navigation", { name: "Main" });
    for (const name of ["Chat", "Review queue", "Monitoring", "Users"]) {
      expect(within(nav).getByRole("link", { name })).toBeInTheDocument();
    }
  });

  it("sends a signed-out visitor of a staff page to sign in", async () => {
    fakeApi();
    renderApp("/review");
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeInTheDocument();
  });

  it("tells a customer the review queue is not for them", async () => {
    fakeApi();
    signIn(makeUser("user", "carol"));
    renderApp("/review");
    expect(screen.getByRole("heading", { name: "Not available" })).toBeInTheDocument();
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).getAllByRole("link").map((a) => a.textContent)).toEqual(["Chat"]);
  });

  it("ends the session on a 401 and asks to sign in again", async () => {
    const f = fakeApi();
    f.on("GET", "/api/auth/me", { status: 401, body: { error: "invalid_token", detail: "expired" } });
    signIn(makeUser("agent", "sam"));
    renderApp("/review");
    await waitFor(() => expect(screen.getByRole("heading", { name: "Sign in" })).toBeInTheDocument());
    expect(screen.getByText("Your session has ended. Please sign in again.")).toBeInTheDocument();
  });
});
