import { createClient } from "@connectrpc/connect";
import { useQuery, useTransport } from "@connectrpc/connect-query";
import type { UserManager } from "oidc-client-ts";
import { lazy, Suspense, useEffect, useRef, useState } from "react";
import { createBrowserRouter, Link, NavigationType, Outlet, useLocation, useNavigationType } from "react-router";

import { AccountPage } from "./Account";
import { CALLBACK_PATH } from "./auth";
import { useAnswers } from "./api";
import { CartPage, GuestCartPage } from "./Cart";
import { CartService } from "./gen/order/v1/cart_service_pb";
import { Crash } from "./Crash";
import { takeGuestCart, useGuestCart } from "./guestCart";
import { type Locale, LOCALES, messages, useLanguage } from "./i18n";
import { CheckoutPage, OrderPage, OrdersPage } from "./Orders";
import { WithId } from "./routing";
import { isAdmin, SessionProvider, useSession } from "./session";
import { useFormat } from "./ui";
import { Catalog, ProductPage } from "./Shop";

// The back office is its own chunk, downloaded only by admins who open it: shoppers never pay for it.
const BackOffice = lazy(() => import("./admin/BackOffice").then((module) => ({ default: module.BackOffice })));

const m = messages({
  account: { en: "Account", ja: "アカウント" },
  orders: { en: "Orders", ja: "注文履歴" },
  cart: { en: "Cart", ja: "カート" },
  inCart: { en: "{count} items", ja: "{count}点" },
  guestItemsLeftOut: {
    en: "Not everything from before you signed in could join your cart: {count} left out (no longer on sale, or over its limits).",
    ja: "ログイン前に入れた商品のうち{count}品目はカートに入れられませんでした（販売終了、またはカートの上限）。",
  },
  backOffice: { en: "Back office", ja: "管理画面" },
  signIn: { en: "Sign in", ja: "ログイン" },
  signUp: { en: "Sign up", ja: "新規登録" },
  createAccount: { en: "Create an account", ja: "アカウントを作成" },
  signOut: { en: "Sign out", ja: "ログアウト" },
  language: { en: "Language", ja: "言語" },
  signingIn: { en: "Signing you in…", ja: "ログインしています…" },
  checking: { en: "Checking your sign-in…", ja: "ログイン状態を確認しています…" },
  toSignUp: { en: "Taking you to sign-up…", ja: "新規登録ページへ移動しています…" },
  pleaseSignIn: { en: "Please sign in", ja: "ログインしてください" },
  signInFirst: {
    en: "Sign in to see your cart, your orders and your account.",
    ja: "カート、注文履歴、アカウントを見るにはログインしてください。",
  },
  notAllowed: { en: "Not allowed", ja: "アクセスできません" },
  loading: { en: "Loading…", ja: "読み込み中…" },
  adminsOnly: { en: "The back office is for the shop's administrators.", ja: "管理画面はショップの管理者専用です。" },
});

/**
 * The app's pages by URL. Every URL is index.html on the server (`ec dev`), which leaves routing to the browser;
 * a URL matching no page shows the catalog. The back office's own pages are under `/admin/*` (admin/BackOffice.tsx).
 */
export function createRouter(users: UserManager | null) {
  return createBrowserRouter([
    {
      element: (
        <SessionProvider users={users}>
          <Layout />
        </SessionProvider>
      ),
      // A page that fails shows what happened in its place, under the header; the header failing, instead of it.
      errorElement: <Crash />,
      children: [
        {
          errorElement: <Crash />,
          children: [
            { index: true, element: <Catalog /> },
            { path: CALLBACK_PATH, element: <SigningIn /> },
            { path: "products/:id", element: <WithId page={ProductPage} /> },
            { path: "signup", element: <SignUp /> },
            { path: "cart", element: <CartRoute /> },
            {
              element: <SignedIn />,
              children: [
                { path: "account", element: <AccountPage /> },
                { path: "checkout", element: <CheckoutPage /> },
                { path: "orders", element: <OrdersPage /> },
                { path: "orders/:id", element: <WithId page={OrderPage} /> },
                { path: "admin/*", element: <AdminOnly /> },
              ],
            },
            { path: "*", element: <Catalog /> },
          ],
        },
      ],
    },
  ]);
}

/** The header, and the page under it. */
function Layout() {
  const { t, locale, setLocale } = useLanguage();
  const { users, user, restoring, problem, signIn, signUp, signOut } = useSession();

  // After moving to another page, focus goes to it (not the first time: the browser starts at the top), and a
  // page opened from a link or a form starts at its top (going back and forth, the browser puts it back).
  const location = useLocation();
  const navigation = useNavigationType();
  const main = useRef<HTMLElement>(null);
  const moved = useRef(false);
  useEffect(() => {
    if (moved.current) {
      if (navigation === NavigationType.Push) window.scrollTo(0, 0);
      main.current?.focus({ preventScroll: true });
    }
    moved.current = true;
  }, [location.key, navigation]);

  return (
    <>
      <header className="bar">
        <Link to="/">
          {/* The shop's name, the same in every language. */}
          <span className="brand">Shop</span>
        </Link>
        <nav aria-label={t(m.account)}>
          {user && (
            <>
              {isAdmin(user) && <Link to="/admin">{t(m.backOffice)}</Link>}
              <Link to="/orders">{t(m.orders)}</Link>
              <CartLink />
              <Link to="/account">
                <span data-testid="signed-in-as">{String(user.profile.email ?? user.profile.sub)}</span>
              </Link>
              <button
                type="button"
                onClick={() => {
                  void signOut();
                }}
              >
                {t(m.signOut)}
              </button>
            </>
          )}
          {!user && !restoring && users && (
            <>
              <GuestCartLink />
              <button
                type="button"
                className="secondary"
                onClick={() => {
                  signUp();
                }}
              >
                {t(m.signUp)}
              </button>
              <button
                type="button"
                onClick={() => {
                  signIn();
                }}
              >
                {t(m.signIn)}
              </button>
            </>
          )}
          <select
            aria-label={t(m.language)}
            value={locale}
            onChange={(e) => {
              setLocale(e.target.value as Locale);
            }}
          >
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
        <GuestCartMerge />
        <Outlet />
      </main>
    </>
  );
}

/**
 * The header's link to the cart, with how many units it holds: the cart query every page shares, so adding to
 * the cart or changing it shows here at once.
 */
function CartLink() {
  const units = useQuery(
    CartService.method.getCart,
    {},
    { select: (answer) => answer.cart?.items.reduce((sum, line) => sum + line.quantity, 0n) ?? 0n },
  );
  return <CartLinkWith units={units.data} />;
}

/** A link to the cart saying how many `units` it holds (nothing while unknown or none). */
function CartLinkWith({ units }: { units: bigint | undefined }) {
  const { t } = useLanguage();
  const format = useFormat();
  return (
    <Link to="/cart">
      {t(m.cart)}
      {units !== undefined && units > 0n && (
        <>
          {" "}
          <span className="badge" data-testid="cart-count" aria-hidden="true">
            {format.count(units)}
          </span>
          <span className="visually-hidden">{t(m.inCart, { count: format.count(units) })}</span>
        </>
      )}
    </Link>
  );
}

/** The header's link to a signed-out shopper's cart (guestCart.ts), with how many units it holds. */
function GuestCartLink() {
  const { units } = useGuestCart();
  return <CartLinkWith units={BigInt(units)} />;
}

/** `/cart`: the account's cart when signed in, this browser's until then. */
function CartRoute() {
  const { t } = useLanguage();
  const { user, restoring } = useSession();
  if (user) return <CartPage />;
  if (restoring) return <p role="status">{t(m.checking)}</p>;
  return <GuestCartPage />;
}

/**
 * Once someone is signed in, moves what they put in the cart before into the account's cart, line by line
 * (AddCartItem adds to a line the account's cart has already), and says how many lines could not join it.
 */
function GuestCartMerge() {
  const { t } = useLanguage();
  const format = useFormat();
  const { user } = useSession();
  const { lines } = useGuestCart();
  const transport = useTransport();
  const answers = useAnswers();
  const [leftOut, setLeftOut] = useState(0);
  const moving = useRef(false);
  const waiting = user !== null && lines.length > 0;
  useEffect(() => {
    // One move at a time in this tab (other tabs wait on the lock in takeGuestCart).
    if (!waiting || moving.current) return;
    moving.current = true;
    const cart = createClient(CartService, transport);
    void takeGuestCart(async (taken) => {
      const failed = [];
      for (const line of taken) {
        try {
          await cart.addCartItem({ skuId: line.skuId, quantity: BigInt(line.quantity) });
        } catch {
          failed.push(line);
        }
      }
      return failed;
    })
      .then(async (failed) => {
        if (failed.length > 0) setLeftOut(failed.length);
        await answers.refresh(CartService.method.getCart);
      })
      .finally(() => {
        moving.current = false;
      });
  }, [waiting, transport, answers]);
  if (leftOut === 0) return null;
  return (
    <p role="alert" className="problem">
      {t(m.guestItemsLeftOut, { count: format.count(BigInt(leftOut)) })}
    </p>
  );
}

/** Where the issuer sends the browser back: the session (session.tsx) finishes signing in and moves on. */
function SigningIn() {
  const { t } = useLanguage();
  return <p role="status">{t(m.signingIn)}</p>;
}

/** `/signup` (an old link or a bookmark): on to the issuer's registration page, then back to the shop. */
function SignUp() {
  const { t } = useLanguage();
  const { users, signUp } = useSession();
  const started = useRef(false);
  useEffect(() => {
    if (started.current || !users) return;
    started.current = true; // once, though React runs effects twice in development
    signUp("/");
  }, [users, signUp]);
  return <p role="status">{t(m.toSignUp)}</p>;
}

/** The pages under it need someone signed in; others are asked to sign in first. */
function SignedIn() {
  const { t } = useLanguage();
  const { user, restoring, signIn, signUp } = useSession();
  if (user) return <Outlet />;
  if (restoring) return <p role="status">{t(m.checking)}</p>;
  return (
    <section>
      <h1>{t(m.pleaseSignIn)}</h1>
      <p>{t(m.signInFirst)}</p>
      <p className="actions">
        <button
          type="button"
          onClick={() => {
            signIn();
          }}
        >
          {t(m.signIn)}
        </button>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            signUp();
          }}
        >
          {t(m.createAccount)}
        </button>
      </p>
    </section>
  );
}

/** The back office, for the admin role only: nobody else downloads it. */
function AdminOnly() {
  const { t } = useLanguage();
  const { user } = useSession();
  if (!isAdmin(user))
    return (
      <section>
        <h1>{t(m.notAllowed)}</h1>
        <p>{t(m.adminsOnly)}</p>
      </section>
    );
  return (
    <Suspense fallback={<p role="status">{t(m.loading)}</p>}>
      <BackOffice />
    </Suspense>
  );
}
