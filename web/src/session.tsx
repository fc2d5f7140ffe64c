import { ErrorResponse, type User, type UserManager } from "oidc-client-ts";
import { createContext, type ReactNode, useContext, useEffect, useState } from "react";
import { useLocation, useNavigate } from "react-router";

import { CALLBACK_PATH } from "./auth";
import { SESSION_EXPIRED } from "./errors";
import { type Message, messages, useLanguage } from "./i18n";

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
  /** A silent sign-in is under way on a page just opened (a reload, a new tab): who is signed in is not known yet. */
  restoring: boolean;
  /** What went wrong with signing in or staying signed in, said above the page until the shopper moves on. */
  problem: Message | null;
  /** Signs in at the issuer, then comes back to `returnTo` (by default the page being shown). */
  signIn: (returnTo?: string) => void;
  /** Creates an account on the issuer's registration page (`prompt=registration`), signed straight in, then
   * comes back to `returnTo` (by default the page being shown). */
  signUp: (returnTo?: string) => void;
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
        (signedIn) => {
          tellOtherTabs("signed-in");
          return { ok: true, path: (signedIn.state as string | undefined) ?? "/" };
        },
        () => ({ ok: false, path: "/" }),
      )
    : Promise.resolve().then(() => {
        // Back from signing out: the issuer's session has ended (the shopper confirmed), so every tab signs out.
        remember(false);
        tellOtherTabs("signed-out");
        return { ok: true, path: "/" };
      });
  return signingIn;
}

/**
 * Kept in localStorage while someone is signed in in this browser: no token, only a hint that a page just opened
 * should try a silent sign-in. Wrong either way, it costs one silent attempt or one click: it signs no tab in
 * or out by itself.
 */
const SIGNED_IN = "ec.signed-in";

/** What the tabs of this storefront tell one another: someone signed in, or signed out at the issuer. */
type TabNews = "signed-in" | "signed-out";
const CHANNEL = "ec.session";

function tellOtherTabs(news: TabNews) {
  if (typeof BroadcastChannel === "undefined") return;
  const channel = new BroadcastChannel(CHANNEL);
  channel.postMessage(news);
  channel.close();
}

function signedInHere(): boolean {
  try {
    return window.localStorage.getItem(SIGNED_IN) !== null;
  } catch {
    return false; // storage disabled: every page starts signed out
  }
}

function remember(signedIn: boolean) {
  try {
    if (signedIn) window.localStorage.setItem(SIGNED_IN, "1");
    else window.localStorage.removeItem(SIGNED_IN);
  } catch {
    // storage disabled: nothing to remember with
  }
}

/** Whether the issuer answered that nobody is signed in (not a timeout, not the network). */
function loginRequired(error: unknown): boolean {
  return error instanceof ErrorResponse && error.error === "login_required";
}

/**
 * Signs in again silently on a page just opened, once per page load however often it is asked (React runs
 * effects twice in development). The issuer answering that nobody is signed in forgets the hint (a later sign-in
 * in any tab sets it again); a timeout or a network failure keeps it, for the next page to try again.
 */
let restoring: Promise<User | null> | null = null;
function restore(users: UserManager) {
  restoring ??= users.signinSilent().catch((error: unknown) => {
    if (loginRequired(error)) remember(false);
    return null;
  });
  return restoring;
}

/**
 * The signed-in user (tokens in memory only, see auth.ts), kept up to date with the issuer's events and with the
 * other tabs (a BroadcastChannel): a page just opened signs in silently when this browser was signed in, a sign-in
 * in one tab signs the others in silently, and a sign-out completed at the issuer signs every tab out.
 */
export function SessionProvider({ users, children }: { users: UserManager | null; children: ReactNode }) {
  const location = useLocation();
  const navigate = useNavigate();
  const { locale } = useLanguage();
  const [user, setUser] = useState<User | null>(null);
  const [restoringNow, setRestoring] = useState(
    () => users !== null && window.location.pathname !== CALLBACK_PATH && signedInHere(),
  );
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
      users.events.addUserLoaded((signedIn) => {
        remember(true);
        changed(signedIn);
      }),
      users.events.addUserUnloaded(() => {
        changed(null);
      }),
      // This tab's renewal failed: this tab asks to sign in again. The others find out by themselves (a
      // timeout here says nothing about their tokens).
      users.events.addSilentRenewError((error) => {
        setProblem(SESSION_EXPIRED);
        if (loginRequired(error)) remember(false);
        void users.removeUser();
      }),
    ];
    const channel = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel(CHANNEL);
    if (channel)
      channel.onmessage = (event: MessageEvent<TabNews>) => {
        if (event.data === "signed-out") void users.removeUser();
        else void users.getUser().then((signedIn) => signedIn ?? restoreAgain(users));
      };
    if (window.location.pathname === CALLBACK_PATH) {
      void finishSignIn(users).then((back) => {
        if (!subscribed) return;
        if (!back.ok) setNextProblem(m.signInFailed);
        void navigate(back.path, { replace: true });
      });
    }
    if (window.location.pathname !== CALLBACK_PATH && signedInHere()) {
      void restore(users).then((signedIn) => {
        if (!subscribed) return;
        changed(signedIn);
        setRestoring(false);
      });
    } else {
      void users.getUser().then((signedIn) => {
        if (subscribed) changed(signedIn);
      });
    }
    return () => {
      subscribed = false;
      channel?.close();
      subscriptions.forEach((unsubscribe) => {
        unsubscribe();
      });
    };
  }, [users, navigate]);

  const session: Session = {
    users,
    user,
    restoring: restoringNow,
    problem,
    // Back to the page the shopper was on once signed in; the login pages speak the shop's language.
    signIn: (returnTo = location.pathname + location.search) =>
      void users?.signinRedirect({ state: returnTo, ui_locales: locale }),
    signUp: (returnTo = location.pathname + location.search) =>
      void users?.signinRedirect({ state: returnTo, ui_locales: locale, prompt: "registration" }),
    // The other tabs sign out once the issuer has ended the session (back on the callback page), not before:
    // the shopper may yet choose to stay signed in.
    signOut: async () => {
      await users?.signoutRedirect({ extraQueryParams: { ui_locales: locale } });
    },
  };
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

/** A silent sign-in for a page that is already open (another tab signed in); the issuer saying no changes nothing. */
function restoreAgain(users: UserManager) {
  return users.signinSilent().catch(() => null);
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
