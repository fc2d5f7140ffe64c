import { Code, ConnectError } from "@connectrpc/connect";
import { useQuery } from "@connectrpc/connect-query";
import { useState } from "react";
import { Link } from "react-router";

import { type CurrencySales, OrderService } from "../gen/order/v1/order_service_pb";
import { OrderStatus } from "../gen/order/v1/types_pb";
import { InventoryService } from "../gen/product/v1/inventory_service_pb";
import { messages, useLanguage } from "../i18n";
import { STATUS } from "../Orders";
import { Problem, useFormat } from "../ui";
import { Scroll } from "./common";

const m = messages({
  title: { en: "Dashboard", ja: "ダッシュボード" },
  loading: { en: "Loading the figures…", ja: "数値を読み込んでいます…" },
  today: { en: "Today", ja: "今日" },
  period: { en: "Last {days} days", ja: "過去{days}日間" },
  revenue: { en: "Revenue", ja: "売上" },
  orders: { en: "Orders", ja: "注文数" },
  average: { en: "Average order value", ja: "平均注文額" },
  awaiting: { en: "Waiting to be shipped", ja: "発送待ち" },
  seeAwaiting: { en: "Ship them", ja: "発送する" },
  noSales: {
    en: "No sales in the last {days} days yet: orders that go through show here.",
    ja: "過去{days}日間の売上はまだありません。成立した注文がここに表示されます。",
  },
  chartTitle: { en: "Revenue per day, last {days} days", ja: "日別の売上（過去{days}日間）" },
  chartSummary: {
    en: "{total} in all; the best day was {best}, with {amount}.",
    ja: "合計{total}。最も多かった日は{best}の{amount}です。",
  },
  chartTable: { en: "The figures per day", ja: "日別の数値" },
  day: { en: "Day", ja: "日付" },
  byStatus: { en: "Orders by status, last {days} days", ja: "状況別の注文（過去{days}日間）" },
  status: { en: "Status", ja: "状況" },
  count: { en: "Orders", ja: "件数" },
  bestSellers: { en: "Best sellers", ja: "売れ筋商品" },
  product: { en: "Product", ja: "商品" },
  units: { en: "Units", ja: "数量" },
  noBestSellers: { en: "Nothing sold yet.", ja: "まだ販売はありません。" },
  stock: { en: "Running out", ja: "在庫切れ間近" },
  stockSummary: {
    en: "{soldOut} sold out, {low} at {threshold} or fewer left.",
    ja: "売り切れ{soldOut}件、残り{threshold}点以下{low}件。",
  },
  sku: { en: "SKU", ja: "SKU" },
  left: { en: "Left", ja: "残り" },
  soldOut: { en: "Sold out", ja: "売り切れ" },
  stockFine: { en: "Every SKU on sale has stock.", ja: "販売中のすべてのSKUに在庫があります。" },
  otherCurrencies: { en: "In other currencies", ja: "その他の通貨" },
  loadingStock: { en: "Loading the stock…", ja: "在庫を読み込んでいます…" },
  revenueNote: {
    en: "Revenue is what the orders that went through (confirmed or shipped) were placed at, shipping included; a product's sales are its items' prices.",
    ja: "売上は成立した注文（確定・発送済み）の合計で、送料を含みます。商品ごとの販売額は商品の価格の合計です。",
  },
  itemSales: { en: "Sales", ja: "販売額" },
});

/** How many days the dashboard covers, today included. */
const DAYS = 30;

/**
 * The back office's first page: today's and the last 30 days' sales in the browser's time zone (revenue per day
 * as a chart, orders by status, the average order value), the best sellers, stock running out and the orders
 * waiting to be shipped, all summed up by the services (`AdminSalesReport`, `ListLowStock`).
 */
export function Dashboard() {
  const { t } = useLanguage();
  const format = useFormat();
  // The browser's time zone; UTC if the database does not know it (its time zone data is older, say).
  const [timeZone, setTimeZone] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  const report = useQuery(OrderService.method.adminSalesReport, { timeZone, days: DAYS }, { retry: false });
  const zoneRefused = report.isError && ConnectError.from(report.error).code === Code.InvalidArgument;
  if (zoneRefused && timeZone !== "UTC") setTimeZone("UTC");
  const stock = useQuery(InventoryService.method.listLowStock, { limit: 10 });
  const days = format.count(BigInt(DAYS));

  const sales = report.data?.currencies ?? [];
  const [main, ...others] = sales;
  return (
    <section aria-labelledby="dashboard-title" className="dashboard">
      <h1 id="dashboard-title">{t(m.title)}</h1>
      {report.isPending && <p role="status">{t(m.loading)}</p>}
      {report.isError && <Problem error={report.error} />}
      {report.data && (
        <>
          <div className="figures">
            <Figures label={t(m.today)} sales={main} prefix="today" />
            <Figures label={t(m.period, { days })} sales={main} prefix="period" />
            <div className="card">
              <h2>{t(m.awaiting)}</h2>
              <p className="figure" data-testid="awaiting-shipment">
                {format.count(report.data.awaitingShipment)}
              </p>
              {report.data.awaitingShipment > 0n && (
                <Link to={`/admin/orders?status=${OrderStatus.CONFIRMED}`}>{t(m.seeAwaiting)}</Link>
              )}
            </div>
          </div>
          {main ? <RevenueChart sales={main} /> : <p>{t(m.noSales, { days })}</p>}
          <p className="help">{t(m.revenueNote)}</p>
          <div className="columns">
            <section aria-labelledby="best-title" className="card">
              <h2 id="best-title">{t(m.bestSellers)}</h2>
              {main && main.bestSellers.length > 0 ? (
                <Scroll label={t(m.bestSellers)}>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">{t(m.product)}</th>
                        <th scope="col">{t(m.units)}</th>
                        <th scope="col">{t(m.itemSales)}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {main.bestSellers.map((product) => (
                        <tr key={product.productId} data-testid="best-seller">
                          <th scope="row">
                            <Link to={`/admin/products/${product.productId}`}>{product.productName}</Link>
                          </th>
                          <td>{format.count(product.units)}</td>
                          <td>{format.money(product.revenue)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </Scroll>
              ) : (
                <p>{t(m.noBestSellers)}</p>
              )}
            </section>
            <section aria-labelledby="status-title" className="card">
              <h2 id="status-title">{t(m.byStatus, { days })}</h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t(m.status)}</th>
                    <th scope="col">{t(m.count)}</th>
                  </tr>
                </thead>
                <tbody>
                  {report.data.ordersByStatus.map((row) => (
                    <tr key={row.status} data-testid="status-count">
                      <th scope="row">{t(STATUS[row.status])}</th>
                      <td>{format.count(row.count)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
            <section aria-labelledby="stock-title" className="card">
              <h2 id="stock-title">{t(m.stock)}</h2>
              {stock.isPending && <p role="status">{t(m.loadingStock)}</p>}
              {stock.isError && <Problem error={stock.error} />}
              {stock.data && stock.data.skus.length === 0 && <p>{t(m.stockFine)}</p>}
              {stock.data && stock.data.skus.length > 0 && (
                <>
                  <p>
                    {t(m.stockSummary, {
                      soldOut: format.count(stock.data.soldOutCount),
                      low: format.count(stock.data.lowCount),
                      threshold: format.count(stock.data.threshold),
                    })}
                  </p>
                  <Scroll label={t(m.stock)}>
                    <table>
                      <thead>
                        <tr>
                          <th scope="col">{t(m.product)}</th>
                          <th scope="col">{t(m.sku)}</th>
                          <th scope="col">{t(m.left)}</th>
                        </tr>
                      </thead>
                      <tbody>
                        {stock.data.skus.map((sku) => (
                          <tr key={sku.skuId} data-testid="running-out">
                            <th scope="row">
                              <Link to={`/admin/products/${sku.productId}`}>{sku.productName}</Link>
                            </th>
                            <td>{sku.skuCode}</td>
                            <td className={sku.available <= 0n ? "problem" : undefined}>
                              {sku.available <= 0n ? t(m.soldOut) : format.count(sku.available)}
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </Scroll>
                </>
              )}
            </section>
          </div>
          {others.length > 0 && (
            <section aria-labelledby="others-title">
              <h2 id="others-title">{t(m.otherCurrencies)}</h2>
              <div className="figures">
                {others.map((sales) => (
                  <Figures
                    key={sales.currencyCode}
                    label={`${t(m.period, { days })} (${sales.currencyCode})`}
                    sales={sales}
                    prefix={`period-${sales.currencyCode}`}
                    level={3}
                  />
                ))}
              </div>
            </section>
          )}
        </>
      )}
    </section>
  );
}

/** Revenue, orders and their average, today's or the period's, in the shop's main currency. */
function Figures({
  label,
  sales,
  prefix,
  level = 2,
}: {
  label: string;
  sales?: CurrencySales;
  prefix: string;
  /** The heading's level: 3 under a section of its own. */
  level?: 2 | 3;
}) {
  const { t } = useLanguage();
  const format = useFormat();
  const figures = prefix === "today" ? sales?.today : sales?.period;
  return (
    <section className="card" aria-label={label}>
      {level === 2 ? <h2>{label}</h2> : <h3>{label}</h3>}
      <dl>
        <dt>{t(m.revenue)}</dt>
        <dd className="figure" data-testid={`${prefix}-revenue`}>
          {figures ? format.money(figures.revenue) : "–"}
        </dd>
        <dt>{t(m.orders)}</dt>
        <dd data-testid={`${prefix}-orders`}>{format.count(figures?.orders ?? 0n)}</dd>
        <dt>{t(m.average)}</dt>
        <dd data-testid={`${prefix}-average`}>{figures ? format.money(figures.averageOrderValue) : "–"}</dd>
      </dl>
    </section>
  );
}

/** Revenue per day as bars (an SVG drawn here, no chart library), with the same figures as a table. */
function RevenueChart({ sales }: { sales: CurrencySales }) {
  const { t, tag } = useLanguage();
  const format = useFormat();
  const days = sales.days;
  const top = days.reduce((best, day) => ((day.revenue?.amount ?? 0n) > (best.revenue?.amount ?? 0n) ? day : best));
  const max = Number(top.revenue?.amount ?? 0n) || 1;
  const label = (date: string, style: "short" | "long") =>
    new Intl.DateTimeFormat(
      tag,
      style === "short" ? { month: "numeric", day: "numeric" } : { dateStyle: "medium" },
    ).format(new Date(`${date}T00:00:00`));
  const [width, height, bar] = [600, 180, 600 / days.length];
  const count = format.count(BigInt(days.length));
  return (
    <figure className="card chart">
      <svg viewBox={`0 0 ${width} ${height + 20}`} role="img" aria-labelledby="chart-title chart-summary">
        <title id="chart-title">{t(m.chartTitle, { days: count })}</title>
        <desc id="chart-summary">
          {t(m.chartSummary, {
            total: format.money(sales.period?.revenue),
            best: label(top.date, "long"),
            amount: format.money(top.revenue),
          })}
        </desc>
        <line x1="0" y1={height} x2={width} y2={height} className="axis" />
        {days.map((day, n) => {
          const h = (Number(day.revenue?.amount ?? 0n) / max) * (height - 10);
          return (
            <g key={day.date}>
              <rect x={n * bar + 2} y={height - h} width={bar - 4} height={h} className="bar">
                <title>{`${label(day.date, "long")}: ${format.money(day.revenue)}`}</title>
              </rect>
              {(n % 5 === 0 || n === days.length - 1) && (
                <text
                  x={n === 0 ? 0 : n === days.length - 1 ? width : n * bar + bar / 2}
                  y={height + 15}
                  textAnchor={n === 0 ? "start" : n === days.length - 1 ? "end" : "middle"}
                >
                  {label(day.date, "short")}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>{t(m.chartTitle, { days: count })}</figcaption>
      <details>
        <summary>{t(m.chartTable)}</summary>
        <Scroll label={t(m.chartTable)}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t(m.day)}</th>
                <th scope="col">{t(m.revenue)}</th>
                <th scope="col">{t(m.orders)}</th>
              </tr>
            </thead>
            <tbody>
              {days.map((day) => (
                <tr key={day.date}>
                  <th scope="row">{label(day.date, "long")}</th>
                  <td>{format.money(day.revenue)}</td>
                  <td>{format.count(day.orders)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      </details>
    </figure>
  );
}
