import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { User, UserManager } from "oidc-client-ts";
import { type FormEvent, type ReactNode, useEffect, useState } from "react";

import type { Clients } from "./api";
import { CALLBACK_PATH } from "./auth";
import { explain } from "./errors";
import type { Cart } from "./gen/order/v1/types_pb";
import type { Product, Sku } from "./gen/product/v1/types_pb";
import { Link, type Navigate } from "./Link";
import { formatMoney } from "./money";
import { CheckoutPage, OrderPage, OrdersPage } from "./Orders";
import { placeholder } from "./placeholder";

const PAGE_SIZE = 12;
const LOW_STOCK = 5;

interface Props {
  api: Clients;
  users: UserManager | null;
}

export function App({ api, users }: Props) {
  const [path, setPath] = useState(window.location.pathname);
  const [user, setUser] = useState<User | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const navigate: Navigate = (to) => {
    window.history.pushState(null, "", to);
    setPath(new URL(to, window.location.origin).pathname);
    window.scrollTo(0, 0);
  };

  useEffect(() => {
    const back = () => setPath(window.location.pathname);
    window.addEventListener("popstate", back);
    return () => window.removeEventListener("popstate", back);
  }, []);

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
        ? users.signinRedirectCallback().then((signedIn) => {
            changed(signedIn);
            return (signedIn.state as string | undefined) ?? "/";
          })
        : Promise.resolve("/");
      finished
        .catch(() => {
          setProblem("Signing in did not complete. Please try again.");
          return "/";
        })
        .then((back) => {
          window.history.replaceState(null, "", back);
          setPath(back);
        });
    } else {
      void users.getUser().then(changed);
    }
  }, [users]); // eslint-disable-line react-hooks/exhaustive-deps

  // Back to the page the shopper was on once signed in.
  const signIn = () => void users?.signinRedirect({ state: window.location.pathname });
  const signOut = () => void users?.signoutRedirect();
  const product = /^\/products\/([^/]+)$/.exec(path)?.[1];
  const order = /^\/orders\/([^/]+)$/.exec(path)?.[1];
  const signedIn = (page: ReactNode) => (user ? page : <SignInFirst signIn={signIn} />);

  let page: ReactNode;
  if (path === CALLBACK_PATH) page = <p role="status">Signing you in…</p>;
  else if (product) page = <ProductPage id={product} api={api} user={user} signIn={signIn} navigate={navigate} />;
  else if (path === "/cart") page = signedIn(<CartPage api={api} navigate={navigate} />);
  else if (path === "/checkout") page = signedIn(<CheckoutPage api={api} navigate={navigate} />);
  else if (path === "/orders") page = signedIn(<OrdersPage api={api} navigate={navigate} />);
  else if (order) page = signedIn(<OrderPage id={order} api={api} />);
  else page = <Catalog api={api} navigate={navigate} />;

  return (
    <>
      <header className="bar">
        <Link to="/" navigate={navigate}>
          <span className="brand">Shop</span>
        </Link>
        <nav aria-label="Account">
          {user && (
            <>
              <Link to="/orders" navigate={navigate}>
                Orders
              </Link>
              <Link to="/cart" navigate={navigate}>
                Cart
              </Link>
            </>
          )}
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
        {page}
      </main>
    </>
  );
}

function SignInFirst({ signIn }: { signIn: () => void }) {
  return (
    <section>
      <h1>Please sign in</h1>
      <p>Sign in to see your cart and your orders.</p>
      <button type="button" onClick={signIn}>
        Sign in
      </button>
    </section>
  );
}

function Catalog({ api, navigate }: { api: Clients; navigate: Navigate }) {
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
          {explain(products.error)}
        </p>
      )}
      {products.isSuccess && shown.length === 0 && <p>No products match your search.</p>}
      <ul className="products">
        {shown.map((product) => (
          <li key={product.id} className="product">
            <h2>
              <Link to={`/products/${product.id}`} navigate={navigate}>
                {product.name}
              </Link>
            </h2>
            <p className="price">{priceRange(product)}</p>
            <p>{product.description}</p>
          </li>
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

function priceRange(product: Product): string {
  const { minPrice, maxPrice } = product;
  if (!minPrice || !maxPrice) return "";
  const low = formatMoney(minPrice.amount, minPrice.currencyCode, navigator.language);
  if (minPrice.amount === maxPrice.amount) return low;
  return `${low} – ${formatMoney(maxPrice.amount, maxPrice.currencyCode, navigator.language)}`;
}

function stockText(available: bigint): string {
  if (available <= 0n) return "Sold out";
  if (available <= BigInt(LOW_STOCK)) return `Only ${available} left`;
  return "In stock";
}

/** The attribute names of a product's SKUs, each with the values its SKUs have, in a stable order. */
function attributesOf(skus: Sku[]): [string, string[]][] {
  const values = new Map<string, Set<string>>();
  for (const sku of skus) {
    for (const [name, value] of Object.entries(sku.attributes)) {
      if (!values.has(name)) values.set(name, new Set());
      values.get(name)!.add(value);
    }
  }
  return [...values.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, set]) => [name, [...set].sort()]);
}

interface ProductPageProps {
  id: string;
  api: Clients;
  user: User | null;
  signIn: () => void;
  navigate: Navigate;
}

function ProductPage({ id, api, user, signIn, navigate }: ProductPageProps) {
  const queries = useQueryClient();
  const product = useQuery({ queryKey: ["product", id], queryFn: () => api.products.getProduct({ id }) });
  const skus = product.data?.product?.skus ?? [];
  // Listings carry no stock; one call reads every SKU's.
  const stock = useQuery({
    queryKey: ["stock", id],
    enabled: skus.length > 0,
    queryFn: () => api.products.batchGetSkus({ ids: skus.map((sku) => sku.id) }),
  });
  const [picked, setPicked] = useState<Record<string, string>>({});
  const add = useMutation({
    mutationFn: (skuId: string) => api.carts.addCartItem({ skuId, quantity: 1n }),
    onSuccess: (answer) => queries.setQueryData(["cart"], answer.cart),
  });

  if (product.isPending) return <p role="status">Loading…</p>;
  if (product.isError)
    return (
      <p role="alert" className="problem">
        {explain(product.error)}
      </p>
    );
  const item = product.data.product!;
  const attributes = attributesOf(item.skus);
  const choice = { ...Object.fromEntries(attributes.map(([name, values]) => [name, values[0]])), ...picked };
  const sku = item.skus.find((s) => attributes.every(([name]) => s.attributes[name] === choice[name]));
  const available = stock.data?.skus.find((entry) => entry.sku?.id === sku?.id)?.sku?.inventory?.available;
  const image = item.images[0];

  return (
    <article aria-labelledby="product-title" className="product-page">
      <img
        src={image?.url || placeholder(item.name)}
        alt={image?.altText || item.name}
        width={320}
        height={320}
        onError={(event) => {
          event.currentTarget.onerror = null;
          event.currentTarget.src = placeholder(item.name);
        }}
      />
      <div>
        <h1 id="product-title">{item.name}</h1>
        <p>{item.description}</p>
        {attributes.map(([name, values]) => (
          <p key={name}>
            <label htmlFor={`attribute-${name}`}>{name}</label>{" "}
            <select
              id={`attribute-${name}`}
              value={choice[name]}
              onChange={(e) => {
                add.reset();
                setPicked({ ...picked, [name]: e.target.value });
              }}
            >
              {values.map((value) => (
                <option key={value}>{value}</option>
              ))}
            </select>
          </p>
        ))}
        {sku ? (
          <>
            <p className="price" data-testid="price">
              {sku.price ? formatMoney(sku.price.amount, sku.price.currencyCode, navigator.language) : ""}
            </p>
            <p data-testid="stock">{available === undefined ? "Checking stock…" : stockText(available)}</p>
            {user ? (
              <button type="button" disabled={add.isPending || available === 0n} onClick={() => add.mutate(sku.id)}>
                {add.isPending ? "Adding…" : "Add to cart"}
              </button>
            ) : (
              <button type="button" onClick={signIn}>
                Sign in to buy
              </button>
            )}
            {add.isSuccess && (
              <p role="status">
                Added to your cart. <Link to="/cart" navigate={navigate}>See your cart</Link>
              </p>
            )}
            {add.isError && (
              <p role="alert" className="problem">
                {explain(add.error)}
              </p>
            )}
          </>
        ) : (
          <p>This combination is not sold.</p>
        )}
      </div>
    </article>
  );
}

function CartPage({ api, navigate }: { api: Clients; navigate: Navigate }) {
  const queries = useQueryClient();
  const cart = useQuery({ queryKey: ["cart"], queryFn: async () => (await api.carts.getCart({})).cart });
  const saved = (answer: { cart?: Cart }) => queries.setQueryData(["cart"], answer.cart);
  const update = useMutation({
    mutationFn: ({ skuId, quantity }: { skuId: string; quantity: bigint }) =>
      api.carts.updateCartItem({ skuId, quantity }),
    onSuccess: saved,
  });
  const remove = useMutation({ mutationFn: (skuId: string) => api.carts.removeCartItem({ skuId }), onSuccess: saved });

  if (cart.isPending) return <p role="status">Loading your cart…</p>;
  if (cart.isError)
    return (
      <p role="alert" className="problem">
        {explain(cart.error)}
      </p>
    );
  const items = cart.data?.items ?? [];
  const failed = update.error ?? remove.error;
  return (
    <section aria-labelledby="cart-title">
      <h1 id="cart-title">Your cart</h1>
      {failed && (
        <p role="alert" className="problem">
          {explain(failed)}
        </p>
      )}
      {items.length === 0 ? (
        <p>
          Your cart is empty. <Link to="/" navigate={navigate}>Browse the shop</Link>
        </p>
      ) : (
        <>
          <ul className="cart">
            {items.map((line) => (
              <li key={line.skuId}>
                <h2>
                  <Link to={`/products/${line.productId}`} navigate={navigate}>
                    {line.productName}
                  </Link>
                </h2>
                <p>{line.skuCode}</p>
                {!line.purchasable && <p className="problem">No longer available: remove it to check out.</p>}
                {line.purchasable && line.availableQuantity < line.quantity && (
                  <p className="problem">Only {String(line.availableQuantity)} left: lower the quantity to check out.</p>
                )}
                <label htmlFor={`quantity-${line.skuId}`}>Quantity</label>{" "}
                <input
                  id={`quantity-${line.skuId}`}
                  type="number"
                  min={1}
                  max={99}
                  defaultValue={String(line.quantity)}
                  onChange={(e) => {
                    const quantity = Number(e.target.value);
                    if (Number.isInteger(quantity) && quantity >= 1 && quantity <= 99)
                      update.mutate({ skuId: line.skuId, quantity: BigInt(quantity) });
                  }}
                />{" "}
                <span className="price" data-testid="line-total">
                  {line.lineTotal ? formatMoney(line.lineTotal.amount, line.lineTotal.currencyCode, navigator.language) : ""}
                </span>{" "}
                <button type="button" onClick={() => remove.mutate(line.skuId)} disabled={remove.isPending}>
                  Remove <span className="visually-hidden">{line.productName}</span>
                </button>
              </li>
            ))}
          </ul>
          <p className="price" data-testid="subtotal">
            Subtotal:{" "}
            {cart.data?.subtotal
              ? formatMoney(cart.data.subtotal.amount, cart.data.subtotal.currencyCode, navigator.language)
              : ""}
          </p>
          <button type="button" onClick={() => navigate("/checkout")}>
            Check out
          </button>
        </>
      )}
    </section>
  );
}
