// End-to-end tests of the web UI in a real Chromium (Debian's, driven by
// playwright-core; nothing downloads a browser), against a running suite.
//
//   node tests/e2e/ui.e2e.mjs --url http://127.0.0.1:8080 \
//        --admin root-admin:admin-password-123 --out build/screenshots \
//        --results /tmp/results.json
//
// Each step is recorded as {name, ok, error?, ms} in the results file (the
// pytest wrapper tests/e2e/test_ui.py turns them into tests) and printed as
// it finishes. A failed step leaves a screenshot named fail-<step>.png.
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const top = resolve(here, "..", "..");
// playwright-core is one of the web UI's pinned dev dependencies.
const require = createRequire(join(top, "frontend", "package.json"));
const { chromium } = require("playwright-core");
// axe-core checks each screen for accessibility faults (WCAG 2.1 A/AA).
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

function args() {
  const a = { url: "", admin: "", out: join(top, "build", "screenshots"), results: "", chromium: "/usr/bin/chromium" };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) a[v[i].replace(/^--/, "")] = v[i + 1];
  if (!a.url || !a.admin) {
    console.error("usage: ui.e2e.mjs --url URL --admin USER:PASSWORD [--out DIR] [--results FILE]");
    process.exit(2);
  }
  return a;
}

const opt = args();
const [adminUser, adminPass] = [opt.admin.slice(0, opt.admin.indexOf(":")), opt.admin.slice(opt.admin.indexOf(":") + 1)];
const slow = Number(process.env.E2E_TIMEOUT_MS || 30000);
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const uniq = Date.now().toString(36).slice(-6);
const customer = { username: `carol-${uniq}`, password: "customer-password-1" };
const agent = { username: `sam-${uniq}`, password: "agent-password-1" };
// The built-in classifier calls the first sentence alone a question (0.55)
// and answers it; the second makes the complaint plain.
// (Order numbers keep each run's escalations apart in a shared store.)
const COMPLAINT = `This is unacceptable, I want to speak to a manager about my broken order ${uniq}. I want to file a complaint.`;
const AGENT_REPLY = "I'm so sorry about your order. A replacement ships today, and I've refunded the delivery fee.";

mkdirSync(opt.out, { recursive: true });
const results = [];

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - t0 });
    console.log(`ok    ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false, ms: Date.now() - t0, error: String(e && e.stack ? e.stack : e) });
    console.log(`FAIL  ${name}: ${e && e.message ? e.message : e}`);
    for (const p of openPages) {
      await p.page.screenshot({ path: join(opt.out, `fail-${name}-${p.who}.png`) }).catch(() => {});
    }
  }
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function apiCall(method, path, body, token) {
  const res = await fetch(opt.url + path, {
    method,
    headers: {
      ...(body ? { "Content-Type": "application/json" } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const a11yFaults = [];

/** Serious and critical axe-core findings on the page as it is now. */
async function axeCheck(page, name) {
  // evaluate() runs outside the page's Content-Security-Policy.
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return r.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
  });
  for (const f of found) a11yFaults.push(`${name}: ${f}`);
}

/** Desktop and phone screenshots of what a page shows now (and an
 *  accessibility check at each width). */
async function shoot(page, name, { fullPage = true } = {}) {
  const size = page.viewportSize();
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.setViewportSize(DESKTOP);
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(opt.out, `${name}-desktop.png`), fullPage });
  await axeCheck(page, `${name} (desktop)`);
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(opt.out, `${name}-phone.png`), fullPage });
  await axeCheck(page, `${name} (phone)`);
  // On a phone nothing may need a sideways scroll to be found: not a
  // navigation link, not the page.
  const off = await page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const out = [...document.querySelectorAll(".nav a")]
      .filter((a) => { const r = a.getBoundingClientRect(); return r.left < 0 || r.right > w; })
      .map((a) => `link ${a.textContent}`);
    if (document.documentElement.scrollWidth > w) out.push(`the page, ${document.documentElement.scrollWidth}px wide`);
    return out;
  });
  check(!off.length, `${name} (phone): off screen: ${off.join(", ")}`);
  await page.setViewportSize(size ?? DESKTOP);
}

/** No full page load happened since the marker was set. */
async function markPage(page) {
  await page.evaluate(() => {
    window.__noReload = true;
  });
}
async function notReloaded(page) {
  return page.evaluate(() => window.__noReload === true);
}

const browser = await chromium.launch({
  executablePath: opt.chromium,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ],
});

const openPages = [];
async function newPage(who) {
  const ctx = await browser.newContext({ viewport: DESKTOP, locale: "en-US", timezoneId: "UTC" });
  const page = await ctx.newPage();
  page.setDefaultTimeout(slow);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  openPages.push({ who, page, errors });
  return page;
}

async function sendChat(page, text) {
  const before = await page.getByTestId("msg-assistant").count();
  const input = page.getByLabel("Your message");
  await input.fill(text);
  await input.press("Enter");
  await page.getByTestId("msg-assistant").nth(before).waitFor();
  return page.getByTestId("msg-assistant").nth(before);
}

let adminToken = "";
const cust = await newPage("customer");
const agentPage = await newPage("agent");
const adminPage = await newPage("admin");

await step("sign_up_page", async () => {
  await cust.goto(opt.url + "/signup");
  await cust.getByRole("heading", { name: "Create your account" }).waitFor();
  await shoot(cust, "signup");
  // Mistakes are explained before anything is sent.
  await cust.getByRole("button", { name: "Create account" }).click();
  await cust.getByText("Use 3 to 32 characters.").waitFor();
  await cust.getByLabel("Username").fill(customer.username);
  await cust.getByLabel("Password", { exact: true }).fill(customer.password);
  await cust.getByLabel("Confirm password").fill(customer.password);
  await cust.getByLabel("Confirm password").press("Enter");
  await cust.getByRole("heading", { name: "Chat with support" }).waitFor();
  check((await cust.getByTestId("signed-in-as").textContent()).includes(customer.username), "not signed in");
  check(!(await cust.getByRole("link", { name: "Review queue" }).count()), "a customer sees the review queue");
});

await step("customer_chat_answered", async () => {
  await markPage(cust);
  const input = cust.getByLabel("Your message");
  await input.fill("How long does a refund take?");
  await input.press("Enter");
  // The typing indicator shows while the AI works (it may be quick).
  const typingSeen = await cust
    .getByTestId("typing")
    .waitFor({ timeout: 2000 })
    .then(() => true)
    .catch(() => false);
  const answer = cust.getByTestId("msg-assistant").first();
  await answer.waitFor();
  check((await answer.textContent()).length > 20, "empty answer");
  check(!(await cust.getByTestId("escalation-banner").count()), "an ordinary question was escalated");
  check(await cust.getByTestId("intent").first().isVisible(), "the intent is not shown");
  check(typingSeen || (await cust.getByTestId("typing").count()) === 0, "typing indicator stuck");
  const second = await sendChat(cust, "Where is my parcel? It has not arrived yet.");
  check((await second.textContent()).length > 20, "no second answer");
  await shoot(cust, "chat", { fullPage: false });
});

await step("agent_created_via_admin_api", async () => {
  const login = await apiCall("POST", "/api/auth/login", { username: adminUser, password: adminPass });
  check(login.status === 200, `admin login: ${login.status}`);
  adminToken = login.body.access_token;
  const r = await apiCall("POST", "/api/admin/users", { ...agent, role: "agent" }, adminToken);
  check(r.status === 201, `create agent: ${r.status} ${JSON.stringify(r.body)}`);
});

await step("agent_login_queue_live", async () => {
  await agentPage.goto(opt.url + "/login");
  await agentPage.getByRole("heading", { name: "Sign in" }).waitFor();
  await shoot(agentPage, "login");
  await agentPage.getByLabel("Username").fill(agent.username);
  await agentPage.getByLabel("Password").fill(agent.password);
  await agentPage.getByRole("button", { name: "Sign in" }).click();
  await agentPage.getByRole("heading", { name: "Review queue" }).waitFor();
  await agentPage.getByTestId("live-status").filter({ hasText: "Live" }).waitFor();
  check(!(await agentPage.getByRole("link", { name: "Monitoring" }).count()), "an agent sees monitoring");
  await markPage(agentPage);
});

let escalationId = "";
await step("complaint_escalated", async () => {
  const reply = await sendChat(cust, COMPLAINT);
  await cust.getByTestId("escalation-banner").waitFor();
  check(/support team/i.test(await reply.textContent()), "no hand-over message");
  await cust.getByTestId("escalation-banner").getByText("Live").waitFor();
  await shoot(cust, "chat-escalated", { fullPage: false });
});

await step("agent_sees_escalation_arrive_live", async () => {
  const item = agentPage.getByTestId("queue-item").filter({ hasText: `broken order ${uniq}` });
  await item.first().waitFor();
  check(await notReloaded(agentPage), "the queue page was reloaded");
  escalationId = await item.first().getAttribute("data-id");
  check(escalationId && escalationId.startsWith("e_"), "no escalation id");
  // Oldest first: ages never increase down the list.
  await shoot(agentPage, "review-queue");
});

await step("agent_claims_edits_approves", async () => {
  await agentPage.locator(`[data-id="${escalationId}"]`).click();
  const panel = agentPage.getByTestId("escalation-panel");
  await panel.waitFor();
  await panel.getByTestId("transcript").getByText(COMPLAINT).waitFor();
  check((await panel.getByTestId("ai-draft").textContent()).length > 0, "no AI draft");
  await panel.getByRole("button", { name: "Claim" }).click();
  await panel.getByText("You've claimed this escalation").waitFor();
  await agentPage.locator(`[data-id="${escalationId}"]`).getByText("Claimed by you").waitFor();
  await panel.getByLabel(/^Edit/).check();
  const reply = panel.getByLabel("Edited reply");
  await reply.fill(AGENT_REPLY);
  await panel.getByLabel("Internal notes (optional)").fill("replacement + delivery fee refund");
  await shoot(agentPage, "review-detail");
  await panel.getByRole("button", { name: "Send edited reply" }).click();
  await panel.getByText("Reply sent to the customer").waitFor();
  await panel.getByText(/Edited by/).waitFor();
  // Resolved items leave the open queue.
  await agentPage.locator(`.queue-list [data-id="${escalationId}"]`).waitFor({ state: "detached" });
  check(await notReloaded(agentPage), "the review page was reloaded");
});

await step("customer_sees_human_reply_live", async () => {
  const msg = cust.getByTestId("msg-agent").filter({ hasText: AGENT_REPLY });
  await msg.waitFor();
  check(await notReloaded(cust), "the chat page was reloaded");
  check((await msg.textContent()).includes("Support team"), "the reply is not marked as the team's");
  // Handed back to the AI: the banner goes away.
  await cust.getByTestId("escalation-banner").waitFor({ state: "detached" });
  await shoot(cust, "chat-human-reply", { fullPage: false });
});

await step("conflict_explained", async () => {
  // Another complaint, claimed by a second agent through the API: this
  // agent's claim is refused and the page says who holds it.
  const other = { username: `kim-${uniq}`, password: "agent-password-2" };
  const c = await apiCall("POST", "/api/admin/users", { ...other, role: "agent" }, adminToken);
  check(c.status === 201, `second agent: ${c.status}`);
  const otherToken = (await apiCall("POST", "/api/auth/login", other)).body.access_token;
  const chat = await apiCall("POST", "/api/chat", {
    message: `I want to file a complaint, the courier was rude and my package ${uniq} is damaged`,
  });
  check(chat.status === 200 && chat.body.escalated, "second complaint not escalated");
  const item = agentPage.getByTestId("queue-item").filter({ hasText: `package ${uniq}` }).first();
  await item.waitFor();
  const id = await item.getAttribute("data-id");
  await item.click();
  const panel = agentPage.getByTestId("escalation-panel");
  await panel.getByRole("button", { name: "Claim" }).waitFor();
  const claimed = await apiCall("POST", `/api/hitl/escalations/${id}/claim`, undefined, otherToken);
  check(claimed.status === 200, `other claim: ${claimed.status}`);
  // The live stream may already show the other claim; claim anyway if offered.
  const btn = panel.getByRole("button", { name: /^(Claim|Take over)$/ });
  await btn.click();
  await panel.getByText(`${other.username} claimed this escalation first`).waitFor();
  await shoot(agentPage, "review-conflict");
});

await step("guest_chat", async () => {
  const guest = await newPage("guest");
  await guest.goto(opt.url + "/chat");
  await guest.getByText("You're chatting as a guest").waitFor();
  const a = await sendChat(guest, "Hello! Do you ship to Canada?");
  check((await a.textContent()).length > 10, "guest got no answer");
  // The conversation survives a reload (kept with its guest token).
  await guest.reload();
  await guest.getByText("Hello! Do you ship to Canada?").waitFor();
  await shoot(guest, "chat-guest", { fullPage: false });
});

await step("admin_monitoring", async () => {
  await adminPage.goto(opt.url + "/login");
  await adminPage.getByLabel("Username").fill(adminUser);
  await adminPage.getByLabel("Password").fill(adminPass);
  await adminPage.getByRole("button", { name: "Sign in" }).click();
  await adminPage.getByRole("heading", { name: "Monitoring" }).waitFor();
  // Either data (then charts) or the empty state, never a blank page.
  await adminPage.waitForFunction(
    () =>
      document.querySelector(".recharts-surface, .empty, .stat") !== null &&
      !document.querySelector(".monitoring .loading"),
    null,
    { timeout: slow },
  );
  const unavailable = await adminPage.getByText("Monitoring data isn't available yet").count();
  if (!unavailable) {
    const api = await apiCall("GET", "/api/monitoring/dashboard?window=3600&step=60", undefined, adminToken);
    const active = (api.body?.series ?? []).some((p) => p.chats || p.escalations);
    if (active) {
      await adminPage.locator("[data-testid=chart] .recharts-surface").first().waitFor();
    }
    // Every agent with a p95 in the window shows a mark: a line, or a dot
    // when it has one point (a fresh system's first minute).
    const timed = new Set((api.body?.series ?? []).flatMap((p) => Object.keys(p.latency_p95_ms ?? {})));
    if (timed.size) await checkLatencyMarks(adminPage, timed.size);
    const metrics = await apiCall("GET", "/api/monitoring/metrics", undefined, adminToken);
    if (Object.keys(metrics.body?.intents?.distribution ?? {}).length) {
      await adminPage.getByRole("figure", { name: "Intent distribution" }).waitFor();
    }
  }
  await adminPage.waitForTimeout(400);
  await shoot(adminPage, "monitoring");
  const firstTrace = adminPage.locator("[data-testid=traces-table] tbody tr a").first();
  if (await firstTrace.count()) {
    await firstTrace.click();
    await adminPage.getByRole("heading", { name: "Trace" }).waitFor();
    await adminPage.locator(".waterfall, .empty").first().waitFor();
    await shoot(adminPage, "trace");
  }
});

// The p95-latency-over-time chart draws each of `want` agents: a line, or a
// dot for an agent with one point. recharts draws in several passes after
// the chart's surface appears, so this waits for them.
async function checkLatencyMarks(page, want) {
  const fig = page.getByRole("figure", { name: "p95 latency over time per agent" });
  await fig.locator(".recharts-surface").first().waitFor();
  // recharts 3 puts a series' dots in a layer of their own: count the
  // series (by name) with a curve of two points or more, or a dot.
  const marks = () => fig.evaluate((f) => new Set([
    ...[...f.querySelectorAll("path.recharts-line-curve")]
      .filter((p) => /[LC]/.test(p.getAttribute("d") ?? "")),
    ...f.querySelectorAll("circle.recharts-line-dot"),
  ].map((e) => e.getAttribute("name"))).size);
  const until = Date.now() + 5000;
  let n = await marks();
  while (n < want && Date.now() < until) {
    await page.waitForTimeout(100);
    n = await marks();
  }
  check(n === want, `p95 latency chart draws ${n} of ${want} agents`);
}

// The monitoring API's documented shape, with made-up numbers: the charts
// must draw from it whether or not this server has the API yet.
function sampleMonitoring() {
  const now = Date.now();
  const series = Array.from({ length: 60 }, (_, i) => ({
    t: now - (59 - i) * 60_000,
    chats: 5 + Math.round(4 * Math.sin(i / 6) + (i % 7)),
    escalations: i % 9 === 0 ? 2 : i % 4 === 0 ? 1 : 0,
    errors: i === 41 ? 1 : 0,
    latency_p95_ms: { gateway: 40 + (i % 10) * 3, intent_agent: 12 + (i % 5), support_agent: 25 + (i % 8) * 2 },
  }));
  const agent = (n, p50) => ({
    total_calls: n, errors: Math.round(n / 200), escalations: Math.round(n / 12),
    avg_response_time: p50 * 1.2, p50_ms: p50, p95_ms: p50 * 2.6, p99_ms: p50 * 4.1, calls_per_minute: n / 60,
  });
  const span = (id, parent, name, service, start, dur, children = [], status = "ok") => ({
    span_id: id, parent_span_id: parent, name, service, instance: `${service}-1`, start_ms: now - 5000 + start,
    duration_ms: dur, status, attributes: { "request.id": "r_sample", ...(service === "intent-agent" ? { intent: "billing" } : {}) }, children,
  });
  return {
    metrics: {
      agent_performance: { gateway: agent(540, 18), intent_agent: agent(520, 6), support_agent: agent(505, 11), escalation: agent(48, 4) },
      intents: {
        distribution: { question: 210, billing: 96, refund: 71, technical: 64, complaint: 41, greeting: 38, other: 20 },
        avg_confidence: { question: 0.82, billing: 0.91, refund: 0.88, technical: 0.79, complaint: 0.86, greeting: 0.97, other: 0.55 },
      },
      escalations: { created: 48, pending: 3, claimed: 2, resolved: 43, avg_first_response_s: 312, sla_breaches: 1 },
      chats: 540, deflection_rate: 0.911, guardrails: { blocks: { injection: 2, pii: 1 } },
      system_health: { status: "healthy", uptime_seconds: 86_400 + 3_700, services: {
        "intent-agent": { instances: 2, uptime_seconds: 86_000 }, "support-agent": { instances: 2, uptime_seconds: 86_000 },
        escalation: { instances: 1, uptime_seconds: 86_300 }, metrics: { instances: 1, uptime_seconds: 86_300 } } },
      reporting: { dropped: 0 },
    },
    dashboard: { window_s: 3600, step_s: 60, series, intents: { question: 60, billing: 25 } },
    traces: { traces: [
      { trace_id: "t_sample_1", name: "POST /api/chat", start_ms: now - 5000, duration_ms: 46, status: "ok", services: ["gateway", "intent-agent", "support-agent"], span_count: 4 },
      { trace_id: "t_sample_2", name: "POST /api/chat", start_ms: now - 9000, duration_ms: 5012, status: "error", services: ["gateway", "support-agent"], span_count: 3 },
    ] },
    trace: { trace_id: "t_sample_1", spans: [
      span("s1", "", "POST /api/chat", "gateway", 0, 46, [
        span("s2", "s1", "classify", "intent-agent", 3, 9),
        span("s3", "s1", "draft", "support-agent", 13, 27, [span("s4", "s3", "retrieve", "support-agent", 14, 8)]),
      ]),
    ] },
  };
}

// A new admin page whose monitoring API answers with the given sample,
// signed in and on the monitoring screen.
async function monitoringWith(who, sample) {
  const page = await newPage(who);
  await page.route("**/api/monitoring/**", (route) => {
    const u = new URL(route.request().url());
    const body = u.pathname.endsWith("/metrics") ? sample.metrics
      : u.pathname.endsWith("/dashboard") ? sample.dashboard
      : u.pathname.endsWith("/traces") ? sample.traces
      : sample.trace;
    return route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
  });
  await page.goto(opt.url + "/login");
  await page.getByLabel("Username").fill(adminUser);
  await page.getByLabel("Password").fill(adminPass);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Monitoring" }).waitFor();
  return page;
}

await step("monitoring_charts_with_sample_data", async () => {
  const page = await monitoringWith("monitoring-sample", sampleMonitoring());
  for (const name of ["Chats, escalations and errors over time", "p95 latency over time per agent",
                      "Intent distribution", "Latency percentiles per agent"]) {
    await page.getByRole("figure", { name }).locator(".recharts-surface").first().waitFor();
  }
  check((await page.getByRole("img", { name: /Deflection rate: 91%/ }).count()) === 1, "no deflection rate");
  check((await page.getByTestId("queue-health").textContent()).includes("5m"), "no first-response time");
  await page.waitForTimeout(300);
  await shoot(page, "monitoring-sample");
  await page.getByTestId("traces-table").getByRole("link").first().click();
  await page.getByRole("heading", { name: "Trace" }).waitFor();
  await page.getByRole("button", { name: /retrieve/ }).click();
  await page.getByText("r_sample").first().waitFor();
  await shoot(page, "trace-sample");
});

// A fresh system's first minute: each agent has one p95 point.
await step("monitoring_latency_single_points", async () => {
  const sample = sampleMonitoring();
  const series = sample.dashboard.series.map((p, i, all) =>
    ({ ...p, latency_p95_ms: i === all.length - 1 ? p.latency_p95_ms : {} }));
  sample.dashboard = { ...sample.dashboard, series };
  const page = await monitoringWith("monitoring-first-minute", sample);
  await checkLatencyMarks(page, Object.keys(series.at(-1).latency_p95_ms).length);
});

await step("admin_users", async () => {
  await adminPage.getByRole("link", { name: "Users" }).click();
  await adminPage.getByRole("heading", { name: "Users" }).waitFor();
  await adminPage.getByTestId("users-table").getByText(agent.username).waitFor();
  const name = `ana-${uniq}`;
  await adminPage.getByLabel("Username").fill(name);
  await adminPage.getByLabel("Initial password").fill("admin-password-9");
  await adminPage.locator("form").getByLabel("Role").selectOption("admin");
  await adminPage.getByRole("button", { name: "Create account" }).click();
  await adminPage.getByText(`${name} created`).waitFor();
  await adminPage.getByTestId("users-table").getByText(name).waitFor();
  await shoot(adminPage, "users");
});

await step("keyboard_only_sign_in", async () => {
  const k = await newPage("keyboard");
  await k.goto(opt.url + "/login");
  await k.getByLabel("Username").waitFor();
  // The username field has focus; Tab moves through the form in order.
  await k.keyboard.type(customer.username);
  await k.keyboard.press("Tab");
  await k.keyboard.type(customer.password);
  await k.keyboard.press("Enter");
  await k.getByRole("heading", { name: "Chat with support" }).waitFor();
  check((await k.getByTestId("signed-in-as").textContent()).includes(customer.username), "not signed in");
  // The message box has focus: type and send without the mouse.
  await k.keyboard.type("Thanks, that's all.");
  await k.keyboard.press("Enter");
  await k.getByTestId("msg-assistant").first().waitFor();
});

await step("accessibility_checks", async () => {
  check(a11yFaults.length === 0, `axe-core found:\n${a11yFaults.join("\n")}`);
});

await step("no_page_errors", async () => {
  const errs = openPages.flatMap((p) => p.errors.map((e) => `${p.who}: ${e}`));
  check(errs.length === 0, `uncaught errors in the page:\n${errs.join("\n")}`);
});

await browser.close();
if (opt.results) writeFileSync(opt.results, JSON.stringify(results, null, 2));
const failed = results.filter((r) => !r.ok).length;
console.log(`\n${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
