import { skipToken, useInfiniteQuery, useMutation, useQuery } from "@connectrpc/connect-query";
import { type FormEvent, useState } from "react";
import { Link, useLocation, useNavigate } from "react-router";

import { nextPage, useAnswers } from "./api";
import { CART_ERRORS, explain } from "./errors";
import { CartService } from "./gen/order/v1/cart_service_pb";
import { type ListCategoriesResponse, ProductService, ProductSort } from "./gen/product/v1/product_service_pb";
import { type Category, type Inventory, ProductStatus, type Sku, StockLevel } from "./gen/product/v1/types_pb";
import { messages, type Translate, useLanguage } from "./i18n";
import { formatMoney, toMinorUnits } from "./money";
import { ProductPicture } from "./picture";
import { type GuestCartRefusal, useGuestCart } from "./guestCart";
import { useSession } from "./session";
import { Field, More, Problem, SubmitButton, useFormat } from "./ui";

const PAGE_SIZE = 12;
/** The currency the price filter is typed in until the catalog shows one. */
const DEFAULT_CURRENCY = "JPY";

const m = messages({
  allProducts: { en: "All products", ja: "すべての商品" },
  resultsFor: { en: "Results for “{query}”", ja: "「{query}」の検索結果" },
  categories: { en: "Categories", ja: "カテゴリー" },
  allCategories: { en: "All categories", ja: "すべてのカテゴリー" },
  search: { en: "Search products", ja: "商品を検索" },
  searchButton: { en: "Search", ja: "検索" },
  minPrice: { en: "Lowest price ({currency})", ja: "最低価格（{currency}）" },
  maxPrice: { en: "Highest price ({currency})", ja: "最高価格（{currency}）" },
  clear: { en: "Clear filters", ja: "絞り込みを解除" },
  sortBy: { en: "Sort by", ja: "並べ替え" },
  sortRelevance: { en: "Best match", ja: "関連度順" },
  sortNewest: { en: "Newest", ja: "新着順" },
  sortPriceAscending: { en: "Price: low to high", ja: "価格の安い順" },
  sortPriceDescending: { en: "Price: high to low", ja: "価格の高い順" },
  unreadablePrice: {
    en: "A price is a number in the shop's currency, such as {example}.",
    ja: "価格はショップの通貨の金額で入力してください（例：{example}）。",
  },
  loading: { en: "Loading products…", ja: "商品を読み込んでいます…" },
  none: { en: "No products match your search.", ja: "条件に合う商品はありません。" },
  someWords: {
    en: "No product has all of these words; these have some of them.",
    ja: "すべての語を含む商品はありません。一部の語を含む商品を表示しています。",
  },
  loadingProduct: { en: "Loading…", ja: "読み込み中…" },
  soldOut: { en: "Sold out", ja: "売り切れ" },
  onlyLeft: { en: "Only {count} left", ja: "残り{count}点" },
  inStock: { en: "In stock", ja: "在庫あり" },
  checkingStock: { en: "Checking stock…", ja: "在庫を確認しています…" },
  addToCart: { en: "Add to cart", ja: "カートに入れる" },
  adding: { en: "Adding…", ja: "追加しています…" },
  guestCartFull: {
    en: "Your cart holds 50 different items already: remove one first.",
    ja: "カートには50品目までしか入りません。先に1品目削除してください。",
  },
  guestLineFull: { en: "A line holds at most 99 units.", ja: "1品目は99点までです。" },
  added: { en: "Added to your cart.", ja: "カートに追加しました。" },
  seeCart: { en: "See your cart", ja: "カートを見る" },
  notSold: { en: "This combination is not sold.", ja: "この組み合わせは販売していません。" },
});

/** The catalog's filters, kept in the URL's query so a filtered page can be shared, bookmarked and gone back to. */
interface Filters {
  query: string;
  category: string;
  /** Typed amounts in the currency's major unit (yen, dollars), as they appear in the URL. */
  min: string;
  max: string;
  /** One of SORTS' names; empty: by relevance when searching, newest first otherwise. */
  sort: string;
}

/** The orders a shopper can pick, by their name in the URL. */
const SORTS = {
  relevance: ProductSort.RELEVANCE,
  newest: ProductSort.NEWEST,
  "price-asc": ProductSort.PRICE_LOW_TO_HIGH,
  "price-desc": ProductSort.PRICE_HIGH_TO_LOW,
} as const;
type SortName = keyof typeof SORTS;

/** The sort `filters` ask for, as the API names it; one the URL names wrongly, or relevance without a search, is the default. */
function sortOf(filters: Filters): ProductSort {
  const sort = SORTS[filters.sort as SortName] as ProductSort | undefined;
  if (sort === undefined || (sort === ProductSort.RELEVANCE && !filters.query)) return ProductSort.UNSPECIFIED;
  return sort;
}

function filtersOf(search: string): Filters {
  const params = new URLSearchParams(search);
  const get = (name: string) => params.get(name) ?? "";
  return { query: get("q"), category: get("category"), min: get("min"), max: get("max"), sort: get("sort") };
}

function urlOf(filters: Filters): string {
  const { query: q, category, min, max, sort } = filters;
  const params = new URLSearchParams(Object.entries({ q, category, min, max, sort }).filter(([, value]) => value));
  const query = params.toString();
  return query ? `/?${query}` : "/";
}

/**
 * One listing: what is on sale (for admins too, who would otherwise get every status), a page at a time. Typed
 * price bounds are read as amounts of `currency`.
 */
function useCatalog(filters: Filters, currency: string, enabled = true) {
  return useInfiniteQuery(
    ProductService.method.listProducts,
    {
      status: ProductStatus.PUBLISHED,
      pageSize: PAGE_SIZE,
      pageToken: "",
      searchQuery: filters.query || undefined,
      categoryId: filters.category || undefined,
      minPrice: toMinorUnits(filters.min, currency),
      maxPrice: toMinorUnits(filters.max, currency),
      sort: sortOf(filters),
    },
    { pageParamKey: "pageToken", getNextPageParam: nextPage, enabled },
  );
}

/** Whether a typed price bound is empty or an amount of `currency` (not "12.5" yen, not "-3"). */
function readable(bound: string, currency: string): boolean {
  return !bound || toMinorUnits(bound, currency) !== undefined;
}

const NO_FILTERS: Filters = { query: "", category: "", min: "", max: "", sort: "" };

export function Catalog() {
  const { t, tag } = useLanguage();
  const format = useFormat();
  const { search } = useLocation();
  const filters = filtersOf(search);
  // Prices are filtered in the shop's currency, read from the unfiltered first page (the landing page's own
  // query, so usually already cached).
  const unfiltered = useCatalog(NO_FILTERS, DEFAULT_CURRENCY);
  const currency = unfiltered.data?.pages[0]?.products[0]?.minPrice?.currencyCode ?? DEFAULT_CURRENCY;
  const priced = Boolean(filters.min || filters.max);
  const unreadable = !readable(filters.min, currency) || !readable(filters.max, currency);
  // Price bounds wait for the currency they are typed in; a bound that is no amount is refused, not dropped.
  const products = useCatalog(filters, currency, !unreadable && !(priced && unfiltered.isPending));
  const categories = useCategoryTree();
  const shown = products.data?.pages.flatMap((page) => page.products) ?? [];
  const category = findCategory(categories.data ?? [], filters.category);
  const symbol = currencySymbol(currency, tag);

  return (
    <div className="catalog">
      <nav aria-label={t(m.categories)} className="categories">
        <p className="nav-title">{t(m.categories)}</p>
        <ul>
          <li>
            <Link to={urlOf({ ...filters, category: "" })} aria-current={filters.category ? undefined : "page"}>
              {t(m.allCategories)}
            </Link>
          </li>
          {(categories.data ?? []).map((root) => (
            <CategoryItem key={root.id} category={root} filters={filters} />
          ))}
        </ul>
      </nav>
      <section aria-labelledby="catalog-title">
        <h1 id="catalog-title">
          {filters.query ? t(m.resultsFor, { query: filters.query }) : (category?.name ?? t(m.allProducts))}
        </h1>
        <FilterForm key={search} filters={filters} currency={symbol} />
        <SortPicker filters={filters} />
        {unreadable ? (
          <p role="alert" className="problem">
            {t(m.unreadablePrice, { example: currency === "JPY" ? "1200" : "12.50" })}
          </p>
        ) : (
          products.isPending && <p role="status">{t(m.loading)}</p>
        )}
        {products.isError && <Problem error={products.error} />}
        {products.isSuccess && shown.length === 0 && <p>{t(m.none)}</p>}
        {products.data?.pages[0]?.matchedAnyWord && <p role="status">{t(m.someWords)}</p>}
        <ul className="products">
          {shown.map((product) => (
            <li key={product.id} className="product">
              <ProductPicture
                image={product.images[0]}
                name={product.name}
                sizes="(min-width: 40rem) 16rem, 100vw"
                width={400}
                height={300}
                decorative
              />
              <h2>
                <Link to={`/products/${product.id}`}>{product.name}</Link>
              </h2>
              <p className="price">{format.priceRange(product)}</p>
              <p>{product.description}</p>
            </li>
          ))}
        </ul>
        <More {...products} />
      </section>
    </div>
  );
}

/** Search and price bounds, applied together; it starts from the filters in the URL whenever they change. */
function FilterForm({ filters, currency }: { filters: Filters; currency: string }) {
  const { t } = useLanguage();
  const navigate = useNavigate();
  const [draft, setDraft] = useState(filters);
  const apply = (event: FormEvent) => {
    event.preventDefault();
    void navigate(urlOf({ ...draft, query: draft.query.trim() }));
  };
  const filtered = filters.query || filters.category || filters.min || filters.max;
  const price = { type: "number", min: 0, step: "any", inputMode: "decimal" } as const;
  return (
    <form role="search" onSubmit={apply}>
      <Field
        id="search"
        label={t(m.search)}
        type="search"
        value={draft.query}
        maxLength={200}
        onChange={(e) => {
          setDraft({ ...draft, query: e.target.value });
        }}
      />
      <Field
        id="min-price"
        label={t(m.minPrice, { currency })}
        {...price}
        value={draft.min}
        onChange={(e) => {
          setDraft({ ...draft, min: e.target.value });
        }}
      />
      <Field
        id="max-price"
        label={t(m.maxPrice, { currency })}
        {...price}
        value={draft.max}
        onChange={(e) => {
          setDraft({ ...draft, max: e.target.value });
        }}
      />
      <button type="submit">{t(m.searchButton)}</button>
      {filtered && <Link to="/">{t(m.clear)}</Link>}
    </form>
  );
}

/** The list's order: applied as soon as it is picked (the list below is what changes). */
function SortPicker({ filters }: { filters: Filters }) {
  const { t } = useLanguage();
  const navigate = useNavigate();
  const current = sortOf(filters);
  const picked =
    (Object.keys(SORTS) as SortName[]).find((name) => SORTS[name] === current) ??
    (filters.query ? "relevance" : "newest");
  const labels: Record<SortName, string> = {
    relevance: t(m.sortRelevance),
    newest: t(m.sortNewest),
    "price-asc": t(m.sortPriceAscending),
    "price-desc": t(m.sortPriceDescending),
  };
  return (
    <p className="sort">
      <label htmlFor="sort">{t(m.sortBy)}</label>{" "}
      <select
        id="sort"
        value={picked}
        onChange={(e) => {
          // Replacing the history entry: trying the orders one by one adds no Back step each.
          void navigate(urlOf({ ...filters, sort: e.target.value }), { replace: true });
        }}
      >
        {(Object.keys(SORTS) as SortName[])
          .filter((name) => name !== "relevance" || filters.query)
          .map((name) => (
            <option key={name} value={name}>
              {labels[name]}
            </option>
          ))}
      </select>
    </p>
  );
}

function CategoryItem({ category, filters }: { category: Category; filters: Filters }) {
  return (
    <li>
      <Link
        to={urlOf({ ...filters, category: category.id })}
        aria-current={filters.category === category.id ? "page" : undefined}
      >
        {category.name}
      </Link>
      {category.children.length > 0 && (
        <ul>
          {category.children.map((child) => (
            <CategoryItem key={child.id} category={child} filters={filters} />
          ))}
        </ul>
      )}
    </li>
  );
}

const categoriesOf = (answer: ListCategoriesResponse) => answer.categories;

/** The category tree: roots with their children nested (the back office's too). */
export function useCategoryTree() {
  return useQuery(ProductService.method.listCategories, { flat: false }, { select: categoriesOf });
}

function findCategory(tree: Category[], id: string): Category | undefined {
  for (const category of tree) {
    if (category.id === id) return category;
    const found = findCategory(category.children, id);
    if (found) return found;
  }
  return undefined;
}

function currencySymbol(currency: string, tag: string): string {
  const parts = new Intl.NumberFormat(tag, { style: "currency", currency }).formatToParts(0);
  return parts.find((part) => part.type === "currency")?.value ?? currency;
}

/** What the shop says of a SKU's stock: its level, as the platform tells the public (how many are left only when few are). */
function stockText(inventory: Inventory, t: Translate): string {
  switch (inventory.level) {
    case StockLevel.SOLD_OUT:
      return t(m.soldOut);
    case StockLevel.LOW:
      return t(m.onlyLeft, { count: inventory.available });
    default:
      return t(m.inStock);
  }
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

export function ProductPage({ id }: { id: string }) {
  const { t, tag } = useLanguage();
  const { user } = useSession();
  const answers = useAnswers();
  const guest = useGuestCart();
  const [guestAdded, setGuestAdded] = useState<GuestCartRefusal | "added" | null>(null);
  const product = useQuery(ProductService.method.getProduct, { id });
  const skus = product.data?.product?.skus ?? [];
  // Listings carry no stock; one call reads every SKU's.
  const stock = useQuery(
    ProductService.method.batchGetSkus,
    skus.length > 0 ? { ids: skus.map((sku) => sku.id) } : skipToken,
  );
  const [picked, setPicked] = useState<Record<string, string>>({});
  const add = useMutation(CartService.method.addCartItem, {
    onSuccess: (answer) => {
      answers.put(CartService.method.getCart, {}, { cart: answer.cart });
    },
  });

  if (product.isPending) return <p role="status">{t(m.loadingProduct)}</p>;
  if (product.isError)
    return (
      <p role="alert" className="problem">
        {t(explain(product.error))}
      </p>
    );
  const item = product.data.product!;
  const attributes = attributesOf(item.skus);
  const choice = { ...Object.fromEntries(attributes.map(([name, values]) => [name, values[0]])), ...picked };
  const sku = item.skus.find((s) => attributes.every(([name]) => s.attributes[name] === choice[name]));
  const inventory = stock.data?.skus.find((entry) => entry.sku?.id === sku?.id)?.sku?.inventory;
  const image = item.images[0];

  return (
    <article aria-labelledby="product-title" className="product-page">
      <ProductPicture
        image={image}
        name={item.name}
        sizes="(min-width: 50rem) 30rem, 100vw"
        width={image?.variants.at(-1)?.width ?? 480}
        height={image?.variants.at(-1)?.height ?? 360}
        eager
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
                setGuestAdded(null);
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
              {sku.price ? formatMoney(sku.price.amount, sku.price.currencyCode, tag) : ""}
            </p>
            {stock.isError ? (
              <Problem error={stock.error} />
            ) : (
              <p data-testid="stock">{inventory === undefined ? t(m.checkingStock) : stockText(inventory, t)}</p>
            )}
            {user ? (
              <SubmitButton
                type="button"
                pending={add.isPending}
                pendingText={t(m.adding)}
                disabled={inventory?.level === StockLevel.SOLD_OUT}
                onClick={() => {
                  add.mutate({ skuId: sku.id, quantity: 1n });
                }}
              >
                {t(m.addToCart)}
              </SubmitButton>
            ) : (
              // Signed out: into this browser's cart, which joins the account's on signing in.
              <button
                type="button"
                disabled={inventory?.level === StockLevel.SOLD_OUT}
                onClick={() => {
                  setGuestAdded(guest.add(sku.id) ?? "added");
                }}
              >
                {t(m.addToCart)}
              </button>
            )}
            {(add.isSuccess || (!user && guestAdded === "added")) && (
              <p role="status">
                {t(m.added)} <Link to="/cart">{t(m.seeCart)}</Link>
              </p>
            )}
            {add.isError && <Problem error={add.error} known={CART_ERRORS} />}
            {!user && guestAdded === "full" && (
              <p role="alert" className="problem">
                {t(m.guestCartFull)}
              </p>
            )}
            {!user && guestAdded === "quantity" && (
              <p role="alert" className="problem">
                {t(m.guestLineFull)}
              </p>
            )}
          </>
        ) : (
          <p>{t(m.notSold)}</p>
        )}
      </div>
    </article>
  );
}
