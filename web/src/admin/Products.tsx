import { useInfiniteQuery } from "@connectrpc/connect-query";
import { type FormEvent, useState } from "react";
import { Link } from "react-router";

import { nextPage } from "../api";
import { ProductService } from "../gen/product/v1/product_service_pb";
import { type Product, ProductStatus } from "../gen/product/v1/types_pb";
import { ProductPicture } from "../picture";
import { messages, useLanguage } from "../i18n";
import { useCategoryTree } from "../Shop";
import { More, Problem, useFormat } from "../ui";
import { categoryChoices, PRODUCT_STATUS } from "./catalog";
import { PAGE_SIZE, Scroll } from "./common";

const m = messages({
  title: { en: "Products", ja: "商品" },
  newProduct: { en: "New product", ja: "新しい商品" },
  status: { en: "Status", ja: "状態" },
  allStatuses: { en: "All statuses", ja: "すべての状態" },
  loading: { en: "Loading products…", ja: "商品を読み込んでいます…" },
  none: { en: "No products.", ja: "商品はありません。" },
  name: { en: "Name", ja: "商品名" },
  category: { en: "Category", ja: "カテゴリー" },
  price: { en: "Price", ja: "価格" },
  skus: { en: "SKUs", ja: "SKU数" },
  updated: { en: "Updated", ja: "更新日時" },
  search: { en: "Search products", ja: "商品を検索" },
  searchButton: { en: "Search", ja: "検索" },
  finding: { en: "Find products", ja: "商品の検索" },
  stock: { en: "Stock", ja: "在庫" },
  soldOut: { en: "Sold out", ja: "売り切れ" },
  picture: { en: "Picture", ja: "画像" },
});

const STATUSES = [ProductStatus.DRAFT, ProductStatus.PUBLISHED, ProductStatus.HIDDEN];

/** Every product, in every status or in the one picked, a page at a time. */
export function ProductsPage() {
  const { t } = useLanguage();
  const format = useFormat();
  const [status, setStatus] = useState<ProductStatus | undefined>(undefined);
  const [typed, setTyped] = useState("");
  const [query, setQuery] = useState("");
  const search = (event: FormEvent) => {
    event.preventDefault();
    setQuery(typed.trim());
  };
  const products = useInfiniteQuery(
    ProductService.method.listProducts,
    { pageSize: PAGE_SIZE, pageToken: "", status, searchQuery: query || undefined },
    { pageParamKey: "pageToken", getNextPageParam: nextPage },
  );
  const categories = useCategoryTree();
  const categoryName = new Map(categoryChoices(categories.data ?? []).map(({ id, label }) => [id, label]));
  const shown = products.data?.pages.flatMap((page) => page.products) ?? [];

  return (
    <section aria-labelledby="products-title">
      <h1 id="products-title">{t(m.title)}</h1>
      <div className="toolbar">
        <Link to="/admin/products/new">{t(m.newProduct)}</Link>
        <form role="search" aria-label={t(m.finding)} onSubmit={search} className="inline-form">
          <p>
            <label htmlFor="product-search">{t(m.search)}</label>{" "}
            <input
              id="product-search"
              type="search"
              maxLength={200}
              value={typed}
              onChange={(e) => {
                setTyped(e.target.value);
              }}
            />{" "}
            <button type="submit">{t(m.searchButton)}</button>
          </p>
        </form>
        <p>
          <label htmlFor="product-status">{t(m.status)}</label>{" "}
          <select
            id="product-status"
            value={status ?? ""}
            onChange={(e) => {
              setStatus(e.target.value ? Number(e.target.value) : undefined);
            }}
          >
            <option value="">{t(m.allStatuses)}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(PRODUCT_STATUS[s])}
              </option>
            ))}
          </select>
        </p>
      </div>
      {products.isPending && <p role="status">{t(m.loading)}</p>}
      {products.isError && <Problem error={products.error} />}
      {products.isSuccess && shown.length === 0 && <p>{t(m.none)}</p>}
      {shown.length > 0 && (
        <Scroll label={t(m.title)}>
          <table>
            <thead>
              <tr>
                <th scope="col">
                  <span className="visually-hidden">{t(m.picture)}</span>
                </th>
                <th scope="col">{t(m.name)}</th>
                <th scope="col">{t(m.status)}</th>
                <th scope="col">{t(m.category)}</th>
                <th scope="col">{t(m.price)}</th>
                <th scope="col">{t(m.skus)}</th>
                <th scope="col">{t(m.stock)}</th>
                <th scope="col">{t(m.updated)}</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((product) => (
                <tr key={product.id}>
                  <td className="thumbnail">
                    {product.images[0] && (
                      <ProductPicture
                        image={product.images[0]}
                        name={product.name}
                        sizes="48px"
                        width={48}
                        height={48}
                        decorative
                      />
                    )}
                  </td>
                  <th scope="row">
                    <Link to={`/admin/products/${product.id}`}>{product.name}</Link>
                  </th>
                  <td>{t(PRODUCT_STATUS[product.status])}</td>
                  <td>{product.categoryId ? categoryName.get(product.categoryId) : ""}</td>
                  <td className="number">{format.priceRange(product)}</td>
                  <td className="number">{product.skus.length}</td>
                  <StockCell product={product} />
                  <td>{format.date(product.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      <More {...products} />
    </section>
  );
}

/** The units a product's SKUs have left in all (an admin's listing carries each SKU's stock), or "Sold out". */
function StockCell({ product }: { product: Product }) {
  const { t } = useLanguage();
  const format = useFormat();
  const left = product.skus.reduce((sum, sku) => sum + (sku.inventory?.available ?? 0n), 0n);
  if (product.skus.length === 0) return <td />;
  return (
    <td className={left > 0n ? "number" : "number problem"} data-testid="stock">
      {left > 0n ? format.count(left) : t(m.soldOut)}
    </td>
  );
}
