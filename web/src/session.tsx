import type { User, UserManager } from "oidc-client-ts";
import { createContext, type ReactNode, useContext, useEffect, useState } from "react";
import { useLocation, useNavigate } from "react-router";

import { CALLBACK_PATH } from "./auth";
import { SESSION_EXPIRED } from "./errors";
import { type Message, messages } from "./i18n";

const m = messages({
  signInFailed: {
    en: "Signing in did not complete. Please try again.",
    ja: "ログインを完了できませんでした。もう一度お試しください。",
  },
});

interface Session {
  /** Null when the platform accepts no sign-in. */
  users: UserManager | null;
  user: User | null;
  /** What went wrong with signing in or staying signed in, said above the page until the shopper moves on. */
  problem: Message | null;
  /** Signs in at the issuer, then comes back to `returnTo` (by default the page being shown). */
  signIn: (returnTo?: string) => void;
  /** Signs out here and at the issuer (RP-initiated logout); resolves as the browser leaves for its page. */
  signOut: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

/**
 * Finishes a sign-in the issuer sent back to the callback, once per page load however often it is asked
 * (React runs effects twice in development), and answers where to go next: the page it started from.
 */
let signingIn: Promise<{ ok: boolean; path: string }> | null = null;
function finishSignIn(users: UserManager) {
  signingIn ??= new URLSearchParams(window.location.search).has("code")
    ? users.signinRedirectCallback().then(
        (signedIn) => ({ ok: true, path: (signedIn.state as string | undefined) ?? "/" }),
        () => ({ ok: false, path: "/" }),
      )
    : Promise.resolve({ ok: true, path: "/" }); // back from signing out
  return signingIn;
}

/** The signed-in user (tokens in memory only, see auth.ts), kept up to date with the issuer's events. */
export function SessionProvider({ users, children }: { users: UserManager | null; children: ReactNode }) {
  const location = useLocation();
  const navigate = useNavigate();
  const [user, setUser] = useState<User | null>(null);
  const [problem, setProblem] = useState<Message | null>(null);
  // A problem to say on the page the app is going to (the one a sign-in started from), not on this one.
  const [nextProblem, setNextProblem] = useState<Message | null>(null);
  // Moving to another page takes the problem away. Adjusted while rendering, not in an effect, so the new page
  // is never shown with the old problem first (https://react.dev/learn/you-might-not-need-an-effect).
  const [shownAt, setShownAt] = useState(location.key);
  if (shownAt !== location.key) {
    setShownAt(location.key);
    setProblem(nextProblem);
    setNextProblem(null);
  }

  useEffect(() => {
    if (!users) return;
    let subscribed = true;
    const changed = (signedIn: User | null) => {
      setUser(signedIn);
      if (signedIn) setProblem(null);
    };
    const subscriptions = [
      users.events.addUserLoaded(changed),
      users.events.addUserUnloaded(() => {
        changed(null);
      }),
      users.events.addSilentRenewError(() => {
        setProblem(SESSION_EXPIRED);
        void users.removeUser();
      }),
    ];
    if (window.location.pathname === CALLBACK_PATH) {
      void finishSignIn(users).then((back) => {
        if (!subscribed) return;
        if (!back.ok) setNextProblem(m.signInFailed);
        void navigate(back.path, { replace: true });
      });
    }
    void users.getUser().then((signedIn) => {
      if (subscribed) changed(signedIn);
    });
    return () => {
      subscribed = false;
      subscriptions.forEach((unsubscribe) => {
        unsubscribe();
      });
    };
  }, [users, navigate]);

  const session: Session = {
    users,
    user,
    problem,
    // Back to the page the shopper was on once signed in.
    signIn: (returnTo = location.pathname + location.search) => void users?.signinRedirect({ state: returnTo }),
    signOut: async () => {
      await users?.signoutRedirect();
    },
  };
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside <SessionProvider>");
  return session;
}

/** The signed-in user, on a page that is shown only when someone is signed in (`<SignedIn>` in App.tsx). */
export function useSignedInUser(): User {
  const { user } = useSession();
  if (!user) throw new Error("useSignedInUser on a page shown signed out");
  return user;
}

/** Whether the signed-in user's ID token grants the admin role (the services check it again on every call). */
export function isAdmin(user: User | null): boolean {
  const roles = user?.profile.roles;
  return Array.isArray(roles) && roles.includes("admin");
}
