import type { User, UserManager } from "oidc-client-ts";
import { lazy, type ReactNode, Suspense, useEffect, useRef, useState } from "react";

import { AccountPage, SignUpPage } from "./Account";
import type { Clients } from "./api";
import { CALLBACK_PATH } from "./auth";
import { CartPage } from "./Cart";
import { SESSION_EXPIRED } from "./errors";
import { type Locale, LOCALES, type Message, messages, useLanguage } from "./i18n";
import { Link, type Navigate } from "./Link";
import { CheckoutPage, OrderPage, OrdersPage } from "./Orders";
import { Catalog, ProductPage } from "./Shop";

// The back office is its own chunk, downloaded only by admins who open it: shoppers never pay for it.
const BackOffice = lazy(() => import("./admin/BackOffice").then((module) => ({ default: module.BackOffice })));

const m = messages({
  account: { en: "Account", ja: "アカウント" },
  orders: { en: "Orders", ja: "注文履歴" },
  cart: { en: "Cart", ja: "カート" },
  backOffice: { en: "Back office", ja: "管理画面" },
  signIn: { en: "Sign in", ja: "ログイン" },
  signUp: { en: "Sign up", ja: "新規登録" },
  signOut: { en: "Sign out", ja: "ログアウト" },
  language: { en: "Language", ja: "言語" },
  signingIn: { en: "Signing you in…", ja: "ログインしています…" },
  signInFailed: { en: "Signing in did not complete. Please try again.", ja: "ログインを完了できませんでした。もう一度お試しください。" },
  pleaseSignIn: { en: "Please sign in", ja: "ログインしてください" },
  signInFirst: { en: "Sign in to see your cart, your orders and your account.", ja: "カート、注文履歴、アカウントを見るにはログインしてください。" },
  notAllowed: { en: "Not allowed", ja: "アクセスできません" },
  loading: { en: "Loading…", ja: "読み込み中…" },
  adminsOnly: { en: "The back office is for the shop's administrators.", ja: "管理画面はショップの管理者専用です。" },
});

interface Props {
  api: Clients;
  users: UserManager | null;
}

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

/** Whether the signed-in user's ID token grants the admin role (the services check it again on every call). */
function isAdmin(user: User | null): boolean {
  const roles = user?.profile.roles;
  return Array.isArray(roles) && roles.includes("admin");
}

export function App({ api, users }: Props) {
  const { t, locale, setLocale } = useLanguage();
  const [location, setLocation] = useState({ path: window.location.pathname, search: window.location.search });
  const [user, setUser] = useState<User | null>(null);
  const [problem, setProblem] = useState<Message | null>(null);
  const navigate: Navigate = (to) => {
    setProblem(null);
    window.history.pushState(null, "", to);
    const url = new URL(to, window.location.origin);
    setLocation({ path: url.pathname, search: url.search });
    window.scrollTo(0, 0);
  };

  useEffect(() => {
    const back = () => setLocation({ path: window.location.pathname, search: window.location.search });
    window.addEventListener("popstate", back);
    return () => window.removeEventListener("popstate", back);
  }, []);

  useEffect(() => {
    if (!users) return;
    const changed = (signedIn: User | null) => {
      setUser(signedIn);
      if (signedIn) setProblem(null);
    };
    const subscriptions = [
      users.events.addUserLoaded(changed),
      users.events.addUserUnloaded(() => changed(null)),
      users.events.addSilentRenewError(() => {
        setProblem(SESSION_EXPIRED);
        void users.removeUser();
      }),
    ];
    if (window.location.pathname === CALLBACK_PATH) {
      void finishSignIn(users).then((back) => {
        if (!back.ok) setProblem(m.signInFailed);
        window.history.replaceState(null, "", back.path);
        const url = new URL(back.path, window.location.origin);
        setLocation({ path: url.pathname, search: url.search });
      });
    }
    void users.getUser().then(changed);
    return () => subscriptions.forEach((unsubscribe) => unsubscribe());
  }, [users]);

  // After moving to another page, focus goes to it (not the first time: the browser starts at the top).
  const main = useRef<HTMLElement>(null);
  const moved = useRef(false);
  useEffect(() => {
    if (moved.current) main.current?.focus({ preventScroll: true });
    moved.current = true;
  }, [location]);

  // Back to the page the shopper was on once signed in.
  const signIn = (returnTo = window.location.pathname + window.location.search) =>
    void users?.signinRedirect({ state: returnTo });
  const signOut = () => void users?.signoutRedirect();
  const { path, search } = location;
  const product = /^\/products\/([^/]+)$/.exec(path)?.[1];
  const order = /^\/orders\/([^/]+)$/.exec(path)?.[1];
  const signedIn = (page: (user: User) => ReactNode) => (user ? page(user) : <SignInFirst signIn={signIn} />);

  let page: ReactNode;
  if (path === CALLBACK_PATH) page = <p role="status">{t(m.signingIn)}</p>;
  else if (product)
    page = <ProductPage key={product} id={product} api={api} signedIn={!!user} signIn={signIn} navigate={navigate} />;
  else if (path === "/signup") page = <SignUpPage api={api} signIn={signIn} />;
  else if (path === "/account")
    page = signedIn((u) => <AccountPage api={api} userId={u.profile.sub} users={users!} />);
  else if (path === "/cart") page = signedIn(() => <CartPage api={api} navigate={navigate} />);
  else if (path === "/checkout") page = signedIn(() => <CheckoutPage api={api} navigate={navigate} />);
  else if (path === "/orders") page = signedIn(() => <OrdersPage api={api} navigate={navigate} />);
  else if (order) page = signedIn(() => <OrderPage key={order} id={order} api={api} />);
  else if (path === "/admin" || path.startsWith("/admin/"))
    page = signedIn((u) =>
      isAdmin(u) ? (
        <Suspense fallback={<p role="status">{t(m.loading)}</p>}>
          <BackOffice api={api} path={path} navigate={navigate} userId={u.profile.sub} />
        </Suspense>
      ) : (
        <section>
          <h1>{t(m.notAllowed)}</h1>
          <p>{t(m.adminsOnly)}</p>
        </section>
      ),
    );
  else page = <Catalog api={api} search={search} navigate={navigate} />;

  return (
    <>
      <header className="bar">
        <Link to="/" navigate={navigate}>
          {/* The shop's name, the same in every language. */}
          <span className="brand">Shop</span>
        </Link>
        <nav aria-label={t(m.account)}>
          {user && (
            <>
              {isAdmin(user) && (
                <Link to="/admin" navigate={navigate}>
                  {t(m.backOffice)}
                </Link>
              )}
              <Link to="/orders" navigate={navigate}>
                {t(m.orders)}
              </Link>
              <Link to="/cart" navigate={navigate}>
                {t(m.cart)}
              </Link>
              <Link to="/account" navigate={navigate}>
                <span data-testid="signed-in-as">{String(user.profile.email ?? user.profile.sub)}</span>
              </Link>
              <button type="button" onClick={signOut}>
                {t(m.signOut)}
              </button>
            </>
          )}
          {!user && users && (
            <>
              <Link to="/signup" navigate={navigate}>
                {t(m.signUp)}
              </Link>
              <button type="button" onClick={() => signIn()}>
                {t(m.signIn)}
              </button>
            </>
          )}
          <select aria-label={t(m.language)} value={locale} onChange={(e) => setLocale(e.target.value as Locale)}>
            {Object.entries(LOCALES).map(([value, name]) => (
              <option key={value} value={value} lang={value}>
                {name}
              </option>
            ))}
          </select>
        </nav>
      </header>
      <main ref={main} tabIndex={-1}>
        {problem && (
          <p role="alert" className="problem">
            {t(problem)}
          </p>
        )}
        {page}
      </main>
    </>
  );
}

function SignInFirst({ signIn }: { signIn: () => void }) {
  const { t } = useLanguage();
  return (
    <section>
      <h1>{t(m.pleaseSignIn)}</h1>
      <p>{t(m.signInFirst)}</p>
      <button type="button" onClick={() => signIn()}>
        {t(m.signIn)}
      </button>
    </section>
  );
}
