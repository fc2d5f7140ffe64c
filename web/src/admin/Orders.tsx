import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { useInfiniteQuery, useMutation, useQuery } from "@connectrpc/connect-query";
import { type FormEvent, useState } from "react";
import { Link, useSearchParams } from "react-router";

import { useAddressLines } from "../addresses";
import { nextPage, useAnswers } from "../api";
import { OrderService } from "../gen/order/v1/order_service_pb";
import { type Order, OrderStatus, PaymentStatus } from "../gen/order/v1/types_pb";
import { type Message, messages, useLanguage } from "../i18n";
import { STATUS } from "../Orders";
import { Field, More, Problem, SubmitButton, useFormat } from "../ui";
import { PAGE_SIZE, Scroll } from "./common";

const m = messages({
  title: { en: "Orders", ja: "注文" },
  filters: { en: "Filter orders", ja: "注文の絞り込み" },
  status: { en: "Status", ja: "状況" },
  allStatuses: { en: "All statuses", ja: "すべての状況" },
  customer: { en: "Customer", ja: "顧客" },
  account: { en: "Account (user id)", ja: "アカウント（ユーザーID）" },
  email: { en: "Customer's email starts with", ja: "顧客のメールアドレス（前方一致）" },
  from: { en: "Placed on or after", ja: "注文日（この日から）" },
  to: { en: "Placed on or before", ja: "注文日（この日まで）" },
  apply: { en: "Apply filters", ja: "絞り込む" },
  badFilters: {
    en: "Check the filters: an account is a user id in full, and the last day cannot come before the first.",
    ja: "絞り込み条件をご確認ください。アカウントはユーザーIDを省略せずに入力し、終了日は開始日より前にはできません。",
  },
  noContact: { en: "Not recorded", ja: "記録なし" },
  loading: { en: "Loading orders…", ja: "注文を読み込んでいます…" },
  none: { en: "No orders.", ja: "注文はありません。" },
  order: { en: "Order", ja: "注文" },
  placed: { en: "Placed", ja: "注文日時" },
  payment: { en: "Payment", ja: "支払い" },
  total: { en: "Total", ja: "合計" },
  loadingOrder: { en: "Loading the order…", ja: "注文を読み込んでいます…" },
  tracking: { en: "Tracking number", ja: "追跡番号" },
  shippedAt: { en: "Shipped", ja: "発送日時" },
  cancelledAt: { en: "Cancelled", ja: "キャンセル日時" },
  items: { en: "Items", ja: "商品" },
  product: { en: "Product", ja: "商品" },
  sku: { en: "SKU", ja: "SKU" },
  quantity: { en: "Quantity", ja: "数量" },
  unitPrice: { en: "Unit price", ja: "単価" },
  lineTotal: { en: "Amount", ja: "金額" },
  subtotal: { en: "Subtotal", ja: "小計" },
  shipping: { en: "Shipping", ja: "送料" },
  address: { en: "Shipping address", ja: "お届け先" },
  ship: { en: "Ship", ja: "発送" },
  markShipped: { en: "Mark as shipped", ja: "発送済みにする" },
  marking: { en: "Marking as shipped…", ja: "発送済みにしています…" },
  shipped: { en: "Marked as shipped.", ja: "発送済みにしました。" },
  notConfirmed: {
    en: "This order can no longer be shipped: its status has changed (shown above, now up to date).",
    ja: "この注文は発送できなくなりました。状況が変わっています（上に最新の状況を表示しています）。",
  },
  badTracking: {
    en: "Enter a tracking number of 1 to 100 characters.",
    ja: "追跡番号を1〜100文字で入力してください。",
  },
  paymentUnknown: { en: "Unknown", ja: "不明" },
  paymentPending: { en: "Not yet attempted", ja: "未処理" },
  authorized: { en: "Authorized", ja: "与信済み" },
  declined: { en: "Declined", ja: "拒否" },
  voided: { en: "Voided", ja: "取消済み" },
  refunded: { en: "Refunded", ja: "返金済み" },
  captured: { en: "Captured", ja: "売上確定" },
});

const PAYMENT: Record<PaymentStatus, Message> = {
  [PaymentStatus.UNSPECIFIED]: m.paymentUnknown,
  [PaymentStatus.PENDING]: m.paymentPending,
  [PaymentStatus.AUTHORIZED]: m.authorized,
  [PaymentStatus.DECLINED]: m.declined,
  [PaymentStatus.VOIDED]: m.voided,
  [PaymentStatus.REFUNDED]: m.refunded,
  [PaymentStatus.CAPTURED]: m.captured,
};

const STATUSES = [
  OrderStatus.PENDING,
  OrderStatus.CONFIRMED,
  OrderStatus.FAILED,
  OrderStatus.CANCELLED,
  OrderStatus.SHIPPED,
];

interface Filters {
  status?: OrderStatus;
  /** The start of the customer's email. */
  email: string;
  /** One account's orders, by its user id (orders placed before the platform recorded emails have none). */
  userId: string;
  /** The first and last days, as `<input type="date">` gives them (YYYY-MM-DD), in the admin's time zone. */
  from: string;
  to: string;
}

/** The start of `day` (YYYY-MM-DD), `days` later, in the browser's time zone; none for no day. */
function startOf(day: string, days = 0) {
  if (!day) return undefined;
  const [year, month, date] = day.split("-").map(Number);
  return timestampFromDate(new Date(year, month - 1, date + days));
}

/** Who placed an order, as it recorded them: "Name <email>", or the email alone. */
function customerOf(order: Order) {
  if (!order.customerEmail) return "";
  return order.customerName ? `${order.customerName} <${order.customerEmail}>` : order.customerEmail;
}

/**
 * Every customer's orders, newest first, filtered by status, the start of the customer's email, the account and
 * the days they were placed on, a page at a time; a link may name the status to start with (`?status=2`, the dashboard's
 * orders waiting to be shipped).
 */
export function OrdersPage() {
  const { t } = useLanguage();
  const format = useFormat();
  const [search] = useSearchParams();
  const linked = Number(search.get("status"));
  const [draft, setDraft] = useState<Filters>({
    email: "",
    userId: "",
    from: "",
    to: "",
    status: STATUSES.includes(linked) ? linked : undefined,
  });
  const [filters, setFilters] = useState(draft);
  const orders = useInfiniteQuery(
    OrderService.method.adminListOrders,
    {
      pageSize: PAGE_SIZE,
      pageToken: "",
      status: filters.status,
      customerEmail: filters.email,
      userId: filters.userId || undefined,
      placedAfter: startOf(filters.from),
      // The whole last day: up to the start of the next.
      placedBefore: startOf(filters.to, 1),
    },
    { pageParamKey: "pageToken", getNextPageParam: nextPage },
  );
  const shown = orders.data?.pages.flatMap((page) => page.orders) ?? [];
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters({ ...draft, email: draft.email.trim(), userId: draft.userId.trim() });
  };

  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">{t(m.title)}</h1>
      <form role="search" aria-label={t(m.filters)} onSubmit={apply} className="filters">
        <Field
          id="order-status"
          label={t(m.status)}
          control={(wiring) => (
            <select
              {...wiring}
              value={draft.status ?? ""}
              onChange={(e) => {
                setDraft({ ...draft, status: e.target.value ? Number(e.target.value) : undefined });
              }}
            >
              <option value="">{t(m.allStatuses)}</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {t(STATUS[s])}
                </option>
              ))}
            </select>
          )}
        />
        <Field
          id="order-email"
          label={t(m.email)}
          type="search"
          value={draft.email}
          maxLength={254}
          spellCheck={false}
          onChange={(e) => {
            setDraft({ ...draft, email: e.target.value });
          }}
        />
        <Field
          id="order-account"
          label={t(m.account)}
          value={draft.userId}
          size={36}
          maxLength={36}
          spellCheck={false}
          onChange={(e) => {
            setDraft({ ...draft, userId: e.target.value });
          }}
        />
        <Field
          id="order-from"
          label={t(m.from)}
          type="date"
          value={draft.from}
          onChange={(e) => {
            setDraft({ ...draft, from: e.target.value });
          }}
        />
        <Field
          id="order-to"
          label={t(m.to)}
          type="date"
          value={draft.to}
          min={draft.from || undefined}
          onChange={(e) => {
            setDraft({ ...draft, to: e.target.value });
          }}
        />
        <button type="submit">{t(m.apply)}</button>
      </form>
      {orders.isPending && <p role="status">{t(m.loading)}</p>}
      {orders.isError && <Problem error={orders.error} known={{ [Code.InvalidArgument]: m.badFilters }} />}
      {orders.isSuccess && shown.length === 0 && <p>{t(m.none)}</p>}
      {shown.length > 0 && (
        <Scroll label={t(m.title)}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t(m.order)}</th>
                <th scope="col">{t(m.placed)}</th>
                <th scope="col">{t(m.customer)}</th>
                <th scope="col">{t(m.status)}</th>
                <th scope="col">{t(m.payment)}</th>
                <th scope="col">{t(m.total)}</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((order) => (
                <tr key={order.id}>
                  <th scope="row" className="id">
                    <Link to={`/admin/orders/${order.id}`}>{order.id}</Link>
                  </th>
                  <td>{format.date(order.createdAt)}</td>
                  <td>{customerOf(order) || <span className="id">{order.userId}</span>}</td>
                  <td>{t(STATUS[order.status])}</td>
                  <td>{t(PAYMENT[order.paymentStatus])}</td>
                  <td className="number">{format.money(order.total)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      <More {...orders} />
    </section>
  );
}

/** One order in full, and shipping it once it is confirmed. */
export function OrderPage({ id }: { id: string }) {
  const { t } = useLanguage();
  const format = useFormat();
  const lines = useAddressLines();
  const order = useQuery(OrderService.method.getOrder, { id });
  if (order.isPending) return <p role="status">{t(m.loadingOrder)}</p>;
  if (order.isError)
    return (
      <section aria-labelledby="order-title">
        <h1 id="order-title">{t(m.order)}</h1>
        <Problem error={order.error} />
      </section>
    );
  const o = order.data.order!;
  const address = o.shippingAddress;
  const facts: [Message, string, string?][] = [
    [m.status, t(STATUS[o.status]), "order-status"],
    [m.payment, t(PAYMENT[o.paymentStatus])],
    [m.placed, format.date(o.createdAt)],
    [m.customer, customerOf(o) || t(m.noContact), "customer"],
    [m.account, o.userId, "account"],
  ];
  if (o.trackingNumber) facts.push([m.tracking, o.trackingNumber, "tracking-number"]);
  if (o.shippedAt) facts.push([m.shippedAt, format.date(o.shippedAt)]);
  if (o.cancelledAt) facts.push([m.cancelledAt, format.date(o.cancelledAt)]);

  return (
    <article aria-labelledby="order-title">
      <h1 id="order-title">{t(m.order)}</h1>
      <p className="id">{o.id}</p>
      <dl className="facts">
        {facts.map(([label, value, testId]) => (
          <div key={label.en}>
            <dt>{t(label)}</dt>
            <dd data-testid={testId}>{value}</dd>
          </div>
        ))}
      </dl>
      <Ship order={o} />
      <h2>{t(m.items)}</h2>
      <Scroll label={t(m.items)}>
        <table>
          <thead>
            <tr>
              <th scope="col">{t(m.product)}</th>
              <th scope="col">{t(m.sku)}</th>
              <th scope="col">{t(m.quantity)}</th>
              <th scope="col">{t(m.unitPrice)}</th>
              <th scope="col">{t(m.lineTotal)}</th>
            </tr>
          </thead>
          <tbody>
            {o.items.map((item) => (
              <tr key={item.skuId}>
                <th scope="row">{item.productName}</th>
                <td>{item.skuCode}</td>
                <td className="number">{format.count(item.quantity)}</td>
                <td className="number">{format.money(item.unitPrice)}</td>
                <td className="number">{format.money(item.lineTotal)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            {(
              [
                [m.subtotal, o.subtotal],
                [m.shipping, o.shippingFee],
                [m.total, o.total],
              ] as const
            ).map(([label, amount]) => (
              <tr key={label.en}>
                <th scope="row" colSpan={4}>
                  {t(label)}
                </th>
                <td className="number">{format.money(amount)}</td>
              </tr>
            ))}
          </tfoot>
        </table>
      </Scroll>
      {address && (
        <>
          <h2>{t(m.address)}</h2>
          <p className="address">{lines(address).join("\n")}</p>
        </>
      )}
    </article>
  );
}

function Ship({ order }: { order: Order }) {
  const { t } = useLanguage();
  const answers = useAnswers();
  const [tracking, setTracking] = useState("");
  const ship = useMutation(OrderService.method.shipOrder, {
    onSuccess: (answer) => {
      answers.put(OrderService.method.getOrder, { id: order.id }, { order: answer.order });
      return answers.refresh(OrderService.method.adminListOrders);
    },
    // Refused: the order may have moved on (shipped or cancelled meanwhile), so show it as it is now.
    onError: () => answers.refresh(OrderService.method.getOrder, { id: order.id }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    ship.mutate({ id: order.id, trackingNumber: tracking.trim() });
  };
  const waiting = order.status === OrderStatus.CONFIRMED;
  if (!waiting && ship.isIdle) return null;
  return (
    <section aria-labelledby="ship-title">
      <h2 id="ship-title">{t(m.ship)}</h2>
      {waiting && (
        <form onSubmit={submit} className="inline-form">
          <Field
            id="tracking-number"
            label={t(m.tracking)}
            required
            maxLength={100}
            value={tracking}
            onChange={(e) => {
              setTracking(e.target.value);
            }}
          />
          <SubmitButton pending={ship.isPending} pendingText={t(m.marking)}>
            {t(m.markShipped)}
          </SubmitButton>
        </form>
      )}
      {ship.isSuccess && <p role="status">{t(m.shipped)}</p>}
      {ship.isError && (
        <Problem
          error={ship.error}
          known={{ [Code.FailedPrecondition]: m.notConfirmed, [Code.InvalidArgument]: m.badTracking }}
        />
      )}
    </section>
  );
}
