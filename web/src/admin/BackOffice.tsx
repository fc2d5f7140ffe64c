import type { ReactNode } from "react";

import type { Clients } from "../api";
import { messages, useLanguage } from "../i18n";
import { Link, type Navigate } from "../Link";
import "./admin.css";
import { CategoriesPage } from "./Categories";
import { OrderPage, OrdersPage } from "./Orders";
import { NewProductPage, ProductPage } from "./Product";
import { ProductsPage } from "./Products";
import { UsersPage } from "./Users";

const m = messages({
  backOffice: { en: "Back office", ja: "管理画面" },
  overview: { en: "Overview", ja: "概要" },
  products: { en: "Products", ja: "商品" },
  productsAbout: {
    en: "Every product in every status: create, edit, SKUs, stock, images, publish and hide.",
    ja: "すべての状態の商品：作成、編集、SKU、在庫、画像、公開・非公開。",
  },
  categories: { en: "Categories", ja: "カテゴリー" },
  categoriesAbout: { en: "The category tree: create, rename, delete.", ja: "カテゴリーの階層：作成、名前の変更、削除。" },
  orders: { en: "Orders", ja: "注文" },
  ordersAbout: { en: "Every customer's orders, and shipping them.", ja: "すべての顧客の注文と発送。" },
  users: { en: "Users", ja: "ユーザー" },
  usersAbout: { en: "Accounts, and who is an administrator.", ja: "アカウントと管理者の権限。" },
  notFound: { en: "Page not found", ja: "ページが見つかりません" },
  noSuchPage: { en: "The back office has no such page.", ja: "管理画面にこのページはありません。" },
});

const SECTIONS = [
  { path: "/admin/products", name: m.products, about: m.productsAbout },
  { path: "/admin/categories", name: m.categories, about: m.categoriesAbout },
  { path: "/admin/orders", name: m.orders, about: m.ordersAbout },
  { path: "/admin/users", name: m.users, about: m.usersAbout },
];

interface Props {
  api: Clients;
  /** The URL path, "/admin" or below. */
  path: string;
  navigate: Navigate;
  /** The signed-in admin's own user id. */
  userId: string;
}

/** The shop owner's back office: the page for `path`, under the back office's own navigation. */
export function BackOffice({ api, path, navigate, userId }: Props) {
  const { t } = useLanguage();
  const [, section = "", id] = /^\/admin(?:\/([^/]+)(?:\/([^/]+))?)?\/?$/.exec(path) ?? [];
  const page = route({ section, id, api, navigate, userId });
  return (
    <div className="admin">
      <nav aria-label={t(m.backOffice)} className="admin-nav">
        <ul>
          <li>
            <Link to="/admin" navigate={navigate} current={path === "/admin"}>
              {t(m.overview)}
            </Link>
          </li>
          {SECTIONS.map((s) => (
            <li key={s.path}>
              <Link to={s.path} navigate={navigate} current={path === s.path}>
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

interface Route {
  section: string;
  id?: string;
  api: Clients;
  navigate: Navigate;
  userId: string;
}

function route({ section, id, api, navigate, userId }: Route): ReactNode {
  switch (section) {
    case "":
      return <Overview navigate={navigate} />;
    case "products":
      if (id === "new") return <NewProductPage api={api} navigate={navigate} />;
      return id ? (
        <ProductPage key={id} id={id} api={api} navigate={navigate} />
      ) : (
        <ProductsPage api={api} navigate={navigate} />
      );
    case "categories":
      if (!id) return <CategoriesPage api={api} />;
      break;
    case "orders":
      return id ? <OrderPage key={id} id={id} api={api} /> : <OrdersPage api={api} navigate={navigate} />;
    case "users":
      if (!id) return <UsersPage api={api} userId={userId} />;
      break;
  }
  return <NotFound navigate={navigate} />;
}

function Overview({ navigate }: { navigate: Navigate }) {
  const { t } = useLanguage();
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">{t(m.backOffice)}</h1>
      <ul className="overview">
        {SECTIONS.map((s) => (
          <li key={s.path}>
            <Link to={s.path} navigate={navigate}>
              {t(s.name)}
            </Link>
            <p>{t(s.about)}</p>
          </li>
        ))}
      </ul>
    </section>
  );
}

function NotFound({ navigate }: { navigate: Navigate }) {
  const { t } = useLanguage();
  return (
    <section aria-labelledby="not-found-title">
      <h1 id="not-found-title">{t(m.notFound)}</h1>
      <p>
        {t(m.noSuchPage)}{" "}
        <Link to="/admin" navigate={navigate}>
          {t(m.backOffice)}
        </Link>
      </p>
    </section>
  );
}
