import { Link, type RouteObject, useLocation, useRoutes } from "react-router";

import { messages, useLanguage } from "../i18n";
import { WithId } from "../routing";
import "./admin.css";
import { CategoriesPage } from "./Categories";
import { Dashboard } from "./Dashboard";
import { OrderPage, OrdersPage } from "./Orders";
import { NewProductPage, ProductPage } from "./Product";
import { ProductsPage } from "./Products";
import { UsersPage } from "./Users";
import { WebhookDeliveriesPage, WebhooksPage } from "./Webhooks";

const m = messages({
  backOffice: { en: "Back office", ja: "管理画面" },
  dashboard: { en: "Dashboard", ja: "ダッシュボード" },
  products: { en: "Products", ja: "商品" },
  categories: { en: "Categories", ja: "カテゴリー" },
  orders: { en: "Orders", ja: "注文" },
  users: { en: "Users", ja: "ユーザー" },
  webhooks: { en: "Webhooks", ja: "Webhook" },
  notFound: { en: "Page not found", ja: "ページが見つかりません" },
  noSuchPage: { en: "The back office has no such page.", ja: "管理画面にこのページはありません。" },
});

const SECTIONS = [
  { path: "/admin/products", name: m.products },
  { path: "/admin/categories", name: m.categories },
  { path: "/admin/orders", name: m.orders },
  { path: "/admin/users", name: m.users },
  { path: "/admin/webhooks", name: m.webhooks },
];

/** The back office's pages, under `/admin`; any other path below it is not found. */
const ROUTES: RouteObject[] = [
  { index: true, element: <Dashboard /> },
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
              {t(m.dashboard)}
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
