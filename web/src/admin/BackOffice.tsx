import { Link, type RouteObject, useLocation, useRoutes } from "react-router";

import { messages, useLanguage } from "../i18n";
import { WithId } from "../routing";
import "./admin.css";
import { CategoriesPage } from "./Categories";
import { OrderPage, OrdersPage } from "./Orders";
import { NewProductPage, ProductPage } from "./Product";
import { ProductsPage } from "./Products";
import { UsersPage } from "./Users";
import { WebhookDeliveriesPage, WebhooksPage } from "./Webhooks";

const m = messages({
  backOffice: { en: "Back office", ja: "管理画面" },
  overview: { en: "Overview", ja: "概要" },
  products: { en: "Products", ja: "商品" },
  productsAbout: {
    en: "Every product in every status: create, edit, SKUs, stock, images, publish and hide.",
    ja: "すべての状態の商品：作成、編集、SKU、在庫、画像、公開・非公開。",
  },
  categories: { en: "Categories", ja: "カテゴリー" },
  categoriesAbout: {
    en: "The category tree: create, rename, delete.",
    ja: "カテゴリーの階層：作成、名前の変更、削除。",
  },
  orders: { en: "Orders", ja: "注文" },
  ordersAbout: { en: "Every customer's orders, and shipping them.", ja: "すべての顧客の注文と発送。" },
  users: { en: "Users", ja: "ユーザー" },
  usersAbout: { en: "Accounts, and who is an administrator.", ja: "アカウントと管理者の権限。" },
  webhooks: { en: "Webhooks", ja: "Webhook" },
  webhooksAbout: {
    en: "Events sent to your other systems, and what became of each delivery.",
    ja: "他のシステムへのイベント送信と、その配信結果。",
  },
  notFound: { en: "Page not found", ja: "ページが見つかりません" },
  noSuchPage: { en: "The back office has no such page.", ja: "管理画面にこのページはありません。" },
});

const SECTIONS = [
  { path: "/admin/products", name: m.products, about: m.productsAbout },
  { path: "/admin/categories", name: m.categories, about: m.categoriesAbout },
  { path: "/admin/orders", name: m.orders, about: m.ordersAbout },
  { path: "/admin/users", name: m.users, about: m.usersAbout },
  { path: "/admin/webhooks", name: m.webhooks, about: m.webhooksAbout },
];

/** The back office's pages, under `/admin`; any other path below it is not found. */
const ROUTES: RouteObject[] = [
  { index: true, element: <Overview /> },
  { path: "products", element: <ProductsPage /> },
  { path: "products/new", element: <NewProductPage /> },
  { path: "products/:id", element: <WithId page={ProductPage} /> },
  { path: "categories", element: <CategoriesPage /> },
  { path: "orders", element: <OrdersPage /> },
  { path: "orders/:id", element: <WithId page={OrderPage} /> },
  { path: "users", element: <UsersPage /> },
  { path: "webhooks", element: <WebhooksPage /> },
  { path: "webhooks/:id", element: <WithId page={WebhookDeliveriesPage} /> },
  { path: "*", element: <NotFound /> },
];

/** The shop owner's back office: the page for the URL, under the back office's own navigation. */
export function BackOffice() {
  const { t } = useLanguage();
  const { pathname } = useLocation();
  const page = useRoutes(ROUTES);
  return (
    <div className="admin">
      <nav aria-label={t(m.backOffice)} className="admin-nav">
        <ul>
          <li>
            <Link to="/admin" aria-current={pathname === "/admin" ? "page" : undefined}>
              {t(m.overview)}
            </Link>
          </li>
          {SECTIONS.map((s) => (
            <li key={s.path}>
              <Link to={s.path} aria-current={pathname === s.path ? "page" : undefined}>
                {t(s.name)}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      {page}
    </div>
  );
}

function Overview() {
  const { t } = useLanguage();
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">{t(m.backOffice)}</h1>
      <ul className="overview">
        {SECTIONS.map((s) => (
          <li key={s.path}>
            <Link to={s.path}>{t(s.name)}</Link>
            <p>{t(s.about)}</p>
          </li>
        ))}
      </ul>
    </section>
  );
}

function NotFound() {
  const { t } = useLanguage();
  return (
    <section aria-labelledby="not-found-title">
      <h1 id="not-found-title">{t(m.notFound)}</h1>
      <p>
        {t(m.noSuchPage)} <Link to="/admin">{t(m.backOffice)}</Link>
      </p>
    </section>
  );
}
