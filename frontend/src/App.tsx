// Routes: chat for everyone (guests included), the review queue for agents,
// monitoring and users for admins.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Suspense, lazy, useState } from "react";
import type { ReactNode } from "react";
import { BrowserRouter, Link, Navigate, Route, Routes } from "react-router";
import { ApiError } from "./api/client";
import { AuthProvider, homeFor, useAuth } from "./auth/AuthContext";
import { Layout, RequireRole } from "./components/Layout";
import { LoginPage, SignupPage } from "./pages/AuthPages";
import { ChatPage } from "./pages/ChatPage";
import { ReviewPage } from "./pages/review/ReviewPage";
import { UsersPage } from "./pages/UsersPage";
import { Spinner } from "./components/ui";

// Only admins see the charts: their code loads when first needed.
const MonitoringPage = lazy(() =>
  import("./pages/monitoring/MonitoringPage").then((m) => ({ default: m.MonitoringPage })),
);
const TracePage = lazy(() => import("./pages/monitoring/TracePage").then((m) => ({ default: m.TracePage })));

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        // Client errors will not change by asking again.
        retry: (n, e) => !(e instanceof ApiError && e.status >= 400 && e.status < 500) && n < 2,
      },
    },
  });
}

function Home() {
  const { user } = useAuth();
  return <Navigate to={homeFor(user)} replace />;
}

function NotFound() {
  return (
    <div className="narrow">
      <h1>Page not found</h1>
      <p>
        <Link to="/">Go to your start page</Link>
      </p>
    </div>
  );
}

export function AppRoutes() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<Home />} />
        <Route path="login" element={<LoginPage />} />
        <Route path="signup" element={<SignupPage />} />
        <Route path="chat" element={<ChatPage />} />
        <Route
          path="review/:id?"
          element={
            <RequireRole role="agent">
              <ReviewPage />
            </RequireRole>
          }
        />
        <Route
          path="monitoring"
          element={
            <RequireRole role="admin">
              <Suspense fallback={<Spinner />}>
                <MonitoringPage />
              </Suspense>
            </RequireRole>
          }
        />
        <Route
          path="monitoring/traces/:traceId"
          element={
            <RequireRole role="admin">
              <Suspense fallback={<Spinner />}>
                <TracePage />
              </Suspense>
            </RequireRole>
          }
        />
        <Route
          path="users"
          element={
            <RequireRole role="admin">
              <UsersPage />
            </RequireRole>
          }
        />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}

export function Providers({ children, client }: { children: ReactNode; client?: QueryClient }) {
  const [qc] = useState(() => client ?? makeQueryClient());
  return (
    <QueryClientProvider client={qc}>
      <AuthProvider>{children}</AuthProvider>
    </QueryClientProvider>
  );
}

export default function App() {
  return (
    <Providers>
      <BrowserRouter>
        <AppRoutes />
      </BrowserRouter>
    </Providers>
  );
}
