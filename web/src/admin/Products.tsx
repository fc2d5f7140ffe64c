import { useInfiniteQuery } from "@connectrpc/connect-query";
import { useState } from "react";
import { Link } from "react-router";

import { nextPage } from "../api";
import { ProductService } from "../gen/product/v1/product_service_pb";
import { ProductStatus } from "../gen/product/v1/types_pb";
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
});

const STATUSES = [ProductStatus.DRAFT, ProductStatus.PUBLISHED, ProductStatus.HIDDEN];

/** Every product, in every status or in the one picked, a page at a time. */
export function ProductsPage() {
  const { t } = useLanguage();
  const format = useFormat();
  const [status, setStatus] = useState<ProductStatus | undefined>(undefined);
  const products = useInfiniteQuery(
    ProductService.method.listProducts,
    { pageSize: PAGE_SIZE, pageToken: "", status },
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
                <th scope="col">{t(m.name)}</th>
                <th scope="col">{t(m.status)}</th>
                <th scope="col">{t(m.category)}</th>
                <th scope="col">{t(m.price)}</th>
                <th scope="col">{t(m.skus)}</th>
                <th scope="col">{t(m.updated)}</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((product) => (
                <tr key={product.id}>
                  <th scope="row">
                    <Link to={`/admin/products/${product.id}`}>{product.name}</Link>
                  </th>
                  <td>{t(PRODUCT_STATUS[product.status])}</td>
                  <td>{product.categoryId ? categoryName.get(product.categoryId) : ""}</td>
                  <td className="number">{format.priceRange(product)}</td>
                  <td className="number">{product.skus.length}</td>
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
