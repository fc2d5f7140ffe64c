import { useInfiniteQuery } from "@tanstack/react-query";
import type { User, UserManager } from "oidc-client-ts";
import { type FormEvent, useEffect, useState } from "react";

import type { Clients } from "./api";
import { CALLBACK_PATH } from "./auth";
import type { Product } from "./gen/product/v1/types_pb";
import { formatMoney } from "./money";

const PAGE_SIZE = 12;

interface Props {
  api: Clients;
  users: UserManager | null;
}

export function App({ api, users }: Props) {
  const [path, setPath] = useState(window.location.pathname);
  const [user, setUser] = useState<User | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    if (!users) return;
    const changed = (signedIn: User | null) => setUser(signedIn);
    users.events.addUserLoaded(changed);
    users.events.addUserUnloaded(() => changed(null));
    users.events.addSilentRenewError(() => {
      setProblem("Your session has expired. Please sign in again.");
      void users.removeUser();
    });
    if (path === CALLBACK_PATH) {
      const finished = new URLSearchParams(window.location.search).has("code")
        ? users.signinRedirectCallback().then(changed)
        : Promise.resolve();
      finished
        .catch(() => setProblem("Signing in did not complete. Please try again."))
        .finally(() => {
          window.history.replaceState(null, "", "/");
          setPath("/");
        });
    } else {
      void users.getUser().then(changed);
    }
  }, [users]); // eslint-disable-line react-hooks/exhaustive-deps

  const signIn = () => void users?.signinRedirect();
  const signOut = () => void users?.signoutRedirect();

  return (
    <>
      <header className="bar">
        <a className="brand" href="/">
          Shop
        </a>
        <nav aria-label="Account">
          {user ? (
            <>
              <span data-testid="signed-in-as">{String(user.profile.email ?? user.profile.sub)}</span>
              <button type="button" onClick={signOut}>
                Sign out
              </button>
            </>
          ) : (
            users && (
              <button type="button" onClick={signIn}>
                Sign in
              </button>
            )
          )}
        </nav>
      </header>
      <main>
        {problem && (
          <p role="alert" className="problem">
            {problem}
          </p>
        )}
        {path === CALLBACK_PATH ? <p role="status">Signing you in…</p> : <Catalog api={api} />}
      </main>
    </>
  );
}

function Catalog({ api }: { api: Clients }) {
  const [query, setQuery] = useState("");
  const [draft, setDraft] = useState("");
  const products = useInfiniteQuery({
    queryKey: ["products", query],
    queryFn: ({ pageParam }) =>
      api.products.listProducts({ pageSize: PAGE_SIZE, pageToken: pageParam, searchQuery: query || undefined }),
    initialPageParam: "",
    getNextPageParam: (last) => last.nextPageToken || undefined,
  });
  const search = (event: FormEvent) => {
    event.preventDefault();
    setQuery(draft.trim());
  };
  const shown = products.data?.pages.flatMap((page) => page.products) ?? [];

  return (
    <section aria-labelledby="catalog-title">
      <h1 id="catalog-title">{query ? `Results for “${query}”` : "All products"}</h1>
      <form role="search" onSubmit={search}>
        <label htmlFor="search">Search products</label>
        <input id="search" type="search" value={draft} maxLength={200} onChange={(e) => setDraft(e.target.value)} />
        <button type="submit">Search</button>
      </form>
      {products.isPending && <p role="status">Loading products…</p>}
      {products.isError && (
        <p role="alert" className="problem">
          The catalog cannot be reached right now. Please try again in a moment.
        </p>
      )}
      {products.isSuccess && shown.length === 0 && <p>No products match your search.</p>}
      <ul className="products">
        {shown.map((product) => (
          <ProductCard key={product.id} product={product} />
        ))}
      </ul>
      {products.hasNextPage && (
        <button type="button" onClick={() => void products.fetchNextPage()} disabled={products.isFetchingNextPage}>
          {products.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}

function ProductCard({ product }: { product: Product }) {
  const locale = navigator.language;
  const { minPrice, maxPrice } = product;
  let price = "";
  if (minPrice && maxPrice) {
    const low = formatMoney(minPrice.amount, minPrice.currencyCode, locale);
    price = minPrice.amount === maxPrice.amount ? low : `${low} – ${formatMoney(maxPrice.amount, maxPrice.currencyCode, locale)}`;
  }
  return (
    <li className="product">
      <h2>{product.name}</h2>
      <p className="price">{price}</p>
      <p>{product.description}</p>
    </li>
  );
}
