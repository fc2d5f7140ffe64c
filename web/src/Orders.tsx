import { Code, ConnectError } from "@connectrpc/connect";
import { useInfiniteQuery, useMutation, useQuery } from "@connectrpc/connect-query";
import { type FormEvent, useRef, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";

import { nextPage, useAnswers } from "./api";
import {
  ADDRESS_ERRORS,
  addressFields,
  AddressFields,
  type AddressForm,
  blankAddress,
  MAX_ADDRESSES,
  useAddressLines,
  useSavedAddresses,
} from "./addresses";
import { CHECKOUT_ERRORS, explainFailure } from "./errors";
import { CartService } from "./gen/order/v1/cart_service_pb";
import { OrderService } from "./gen/order/v1/order_service_pb";
import { type Address, type Order, OrderStatus } from "./gen/order/v1/types_pb";
import { type SavedAddress, UserService } from "./gen/user/v1/user_service_pb";
import { type Message, messages, useLanguage } from "./i18n";
import { useSignedInUser } from "./session";
import { Confirm, Field, More, Problem, SubmitButton, useFormat } from "./ui";

const m = messages({
  checkout: { en: "Checkout", ja: "購入手続き" },
  shippingAddress: { en: "Shipping address", ja: "お届け先" },
  newAddress: { en: "A new address", ja: "新しいお届け先" },
  remember: { en: "Save this address in my address book", ja: "このお届け先をアドレス帳に保存する" },
  addressesUnavailable: {
    en: "Your saved addresses could not be loaded: enter the address below.",
    ja: "保存したお届け先を読み込めませんでした。下にご入力ください。",
  },
  payment: { en: "Payment", ja: "お支払い" },
  card: { en: "Card number", ja: "カード番号" },
  cardHelp: {
    en: "Test mode: 4242 4242 4242 4242 is approved, 4000 0000 0000 0002 is declined.",
    ja: "テストモード：4242 4242 4242 4242 は承認、4000 0000 0000 0002 は拒否されます。",
  },
  placing: { en: "Placing your order…", ja: "注文しています…" },
  summary: { en: "Order summary", ja: "ご注文内容" },
  subtotal: { en: "Subtotal: {amount}", ja: "小計：{amount}" },
  noShipping: {
    en: "This shop cannot ship an order in this currency.",
    ja: "この通貨のご注文はお届けできません。",
  },
  totalChanged: {
    en: "The total has changed to {amount} since you saw it (a price or the shipping fee changed). Nothing was ordered: check it and place your order again.",
    ja: "表示後に合計が{amount}に変わりました（価格または送料の変更）。ご注文はまだ確定していません。内容をご確認のうえ、もう一度ご注文ください。",
  },
  place: { en: "Place order", ja: "注文を確定する" },
  yourOrders: { en: "Your orders", ja: "注文履歴" },
  loadingOrders: { en: "Loading your orders…", ja: "注文履歴を読み込んでいます…" },
  noOrders: { en: "You have not ordered anything yet.", ja: "まだ注文はありません。" },
  failedAttempts: { en: "Orders that did not go through", ja: "成立しなかった注文" },
  failedAbout: {
    en: "A declined card or stock that ran out stopped these: nothing was charged, and your cart was kept.",
    ja: "カードの拒否や在庫切れにより成立しなかった注文です。代金は請求されず、カートはそのまま残っています。",
  },
  noFailed: { en: "None: every order you placed went through.", ja: "ありません。すべての注文が成立しています。" },
  showFailed: { en: "Orders that did not go through", ja: "成立しなかった注文を見る" },
  backToOrders: { en: "Back to your orders", ja: "注文履歴に戻る" },
  orders: { en: "Orders", ja: "注文" },
  orderOf: { en: "Order of {date}", ja: "{date}の注文" },
  loadingOrder: { en: "Loading the order…", ja: "注文を読み込んでいます…" },
  notFound: { en: "Order not found", ja: "注文が見つかりません" },
  notInAccount: { en: "We could not find this order in your account.", ja: "このアカウントにはこの注文はありません。" },
  yourOrder: { en: "Your order", ja: "ご注文" },
  status: { en: "Status:", ja: "状況：" },
  thanks: {
    en: "Thank you! Your order is confirmed and will be shipped soon.",
    ja: "ご注文ありがとうございます。注文は確定し、まもなく発送されます。",
  },
  tracking: { en: "Tracking number: {number}", ja: "追跡番号：{number}" },
  items: { en: "Items", ja: "商品" },
  item: { en: "{name} ({code}) × {quantity}: {amount}", ja: "{name}（{code}）× {quantity}：{amount}" },
  shipping: { en: "Shipping: {amount}", ja: "送料：{amount}" },
  total: { en: "Total: {amount}", ja: "合計：{amount}" },
  cancelling: { en: "Cancelling…", ja: "キャンセルしています…" },
  cancel: { en: "Cancel order", ja: "注文をキャンセル" },
  cancelQuestion: {
    en: "Cancel this order? The items go back on sale and the payment is released.",
    ja: "この注文をキャンセルしますか？商品は販売に戻り、お支払いは取り消されます。",
  },
  cancelConfirm: { en: "Yes, cancel the order", ja: "はい、キャンセルします" },
  unknown: { en: "Unknown", ja: "不明" },
  pending: { en: "Being placed", ja: "処理中" },
  confirmed: { en: "Confirmed", ja: "注文確定" },
  failed: { en: "Failed", ja: "注文不成立" },
  cancelled: { en: "Cancelled", ja: "キャンセル済み" },
  shipped: { en: "Shipped", ja: "発送済み" },
});

/** An order's status in words (the back office shows it too). */
export const STATUS: Record<OrderStatus, Message> = {
  [OrderStatus.UNSPECIFIED]: m.unknown,
  [OrderStatus.PENDING]: m.pending,
  [OrderStatus.CONFIRMED]: m.confirmed,
  [OrderStatus.FAILED]: m.failed,
  [OrderStatus.CANCELLED]: m.cancelled,
  [OrderStatus.SHIPPED]: m.shipped,
};

/**
 * Checkout: the address (one of the address book's, the default first, or a new one, which may be saved to the
 * book), a card, and one press of "Place order". The idempotency key belongs to the request:
 * a retry of the same request (a double click, a lost answer) reuses it, so it can never make two orders; a
 * changed request, or a new attempt after a failed order, gets a new one.
 */
export function CheckoutPage() {
  const { t } = useLanguage();
  const format = useFormat();
  const navigate = useNavigate();
  const answers = useAnswers();
  const userId = useSignedInUser().profile.sub;
  const lines = useAddressLines();
  const saved = useSavedAddresses(userId);
  // The address book's entry the shopper picked ("new" for the form); until they pick, the default one.
  const [picked, setPicked] = useState<string | null>(null);
  const [typed, setTyped] = useState(blankAddress);
  const [remember, setRemember] = useState(false);
  const [card, setCard] = useState("");
  const [failed, setFailed] = useState<Order | null>(null);
  const [totalChanged, setTotalChanged] = useState(false);
  const attempt = useRef<{ key: string; request: string } | null>(null);
  // Set from a press of "Place order" until its calls are made: a double click sends nothing twice.
  const submitting = useRef(false);
  // The address this page saved, until the book as listed holds it.
  const [justSaved, setJustSaved] = useState<SavedAddress | null>(null);
  const listed = saved.data ?? [];
  const book = justSaved && !listed.some((entry) => entry.id === justSaved.id) ? [...listed, justSaved] : listed;
  const choice = book.find((entry) => entry.id === (picked ?? book[0]?.id));
  // The summary is the cart as the server prices it now: the total placed is the one shown here, and sent
  // with the order so that a price that changed meanwhile is shown before anything is charged.
  const cart = useQuery(CartService.method.getCart, {}, { select: (answer) => answer.cart });
  const save = useMutation(UserService.method.addAddress);
  const place = useMutation(OrderService.method.createOrder, {
    onError: (error) => {
      const changed = ConnectError.from(error);
      if (changed.code === Code.FailedPrecondition && changed.rawMessage.startsWith("the order total is now")) {
        setTotalChanged(true);
        attempt.current = null;
        void answers.refresh(CartService.method.getCart);
      }
    },
    onSuccess: (answer) => {
      const order = answer.order!;
      attempt.current = null; // the outcome is known: a new attempt is a new order
      void answers.refresh(CartService.method.getCart);
      void answers.refresh(OrderService.method.listOrders);
      if (order.status === OrderStatus.FAILED) {
        setFailed(order);
        return;
      }
      answers.put(OrderService.method.getOrder, { id: order.id }, { order });
      void navigate(`/orders/${order.id}`);
    },
  });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (submitting.current || place.isPending) return;
    submitting.current = true;
    try {
      setFailed(null);
      setTotalChanged(false);
      let address: AddressForm | Address = choice?.address ?? typed;
      if (!choice && remember) {
        // Saved first, so the order goes to the address as the book keeps it; a refusal stops here, said above.
        const answer = await save.mutateAsync({ userId, address }).catch(() => null);
        if (!answer?.address?.address) return;
        address = answer.address.address;
        setJustSaved(answer.address);
        setPicked(answer.address.id);
        setRemember(false);
        void answers.refresh(UserService.method.listAddresses);
      }
      // The request as the server reads it (the address trimmed, field by field): the same address typed or
      // picked from the book is the same request, and keeps its key.
      const request = JSON.stringify([...addressFields(address), card.replace(/\s+/g, "")]);
      if (attempt.current?.request !== request) attempt.current = { key: crypto.randomUUID(), request };
      // Awaited, so a press while it runs finds `submitting` set; its outcome is the mutation's to show.
      await place
        .mutateAsync({
          idempotencyKey: attempt.current.key,
          shippingAddress: address,
          paymentToken: card.replace(/\s+/g, ""),
          expectedTotal: cart.data?.total,
        })
        .catch(() => undefined);
    } finally {
      submitting.current = false;
    }
  };
  const total = cart.data?.total;

  return (
    <section aria-labelledby="checkout-title">
      <h1 id="checkout-title">{t(m.checkout)}</h1>
      {failed && (
        <p role="alert" className="problem">
          {t(explainFailure(failed.failureReason))}
        </p>
      )}
      {totalChanged && total ? (
        <p role="alert" className="problem">
          {t(m.totalChanged, { amount: format.money(total) })}
        </p>
      ) : (
        place.isError && <Problem error={place.error} known={CHECKOUT_ERRORS} />
      )}
      {save.isError && <Problem error={save.error} known={ADDRESS_ERRORS} />}
      {cart.isError && <Problem error={cart.error} />}
      {cart.data && cart.data.items.length > 0 && (
        <section aria-labelledby="summary-title" className="summary">
          <h2 id="summary-title">{t(m.summary)}</h2>
          <ul className="cart">
            {cart.data.items.map((line) => (
              <li key={line.skuId}>
                {t(m.item, {
                  name: line.productName,
                  code: line.skuCode,
                  quantity: format.count(line.quantity),
                  amount: format.money(line.lineTotal),
                })}
              </li>
            ))}
          </ul>
          <p>{t(m.subtotal, { amount: format.money(cart.data.subtotal) })}</p>
          {total ? (
            <>
              <p>{t(m.shipping, { amount: format.money(cart.data.shippingFee) })}</p>
              <p className="price" data-testid="checkout-total">
                {t(m.total, { amount: format.money(total) })}
              </p>
            </>
          ) : (
            <p className="problem">{t(m.noShipping)}</p>
          )}
        </section>
      )}
      <form onSubmit={(event) => void submit(event)} className="checkout">
        <fieldset>
          <legend>{t(m.shippingAddress)}</legend>
          {saved.isError && <p className="problem">{t(m.addressesUnavailable)}</p>}
          {book.length > 0 && (
            <ul className="ship-to">
              {[...book, null].map((entry) => {
                const id = entry ? entry.id : "new";
                return (
                  <li key={id}>
                    <input
                      type="radio"
                      name="ship-to"
                      id={`ship-to-${id}`}
                      checked={entry ? choice?.id === id : !choice}
                      onChange={() => setPicked(id)}
                    />{" "}
                    <label htmlFor={`ship-to-${id}`} className={entry ? "address" : undefined}>
                      {entry?.address ? lines(entry.address).join("\n") : t(m.newAddress)}
                    </label>
                  </li>
                );
              })}
            </ul>
          )}
          {!choice && (
            <>
              <AddressFields idPrefix="" value={typed} onChange={setTyped} />
              {saved.data && book.length < MAX_ADDRESSES && (
                <p>
                  <input
                    id="remember-address"
                    type="checkbox"
                    checked={remember}
                    onChange={(e) => setRemember(e.target.checked)}
                  />{" "}
                  <label htmlFor="remember-address">{t(m.remember)}</label>
                </p>
              )}
            </>
          )}
        </fieldset>
        <fieldset>
          <legend>{t(m.payment)}</legend>
          <Field
            id="card"
            label={t(m.card)}
            help={t(m.cardHelp)}
            inputMode="numeric"
            autoComplete="cc-number"
            required
            maxLength={23}
            value={card}
            onChange={(e) => {
              setCard(e.target.value);
            }}
          />
        </fieldset>
        <SubmitButton pending={place.isPending || save.isPending} pendingText={t(m.placing)}>
          {t(m.place)}
        </SubmitButton>
      </form>
    </section>
  );
}

/** What the history's main list shows: every order but the attempts that failed, which are listed apart. */
const PLACED = [OrderStatus.PENDING, OrderStatus.CONFIRMED, OrderStatus.CANCELLED, OrderStatus.SHIPPED];

/** The shopper's orders, newest first; `?failed=1` lists the attempts that did not go through instead. */
export function OrdersPage() {
  const { t } = useLanguage();
  const format = useFormat();
  const [search] = useSearchParams();
  const failed = search.get("failed") === "1";
  const orders = useInfiniteQuery(
    OrderService.method.listOrders,
    { pageSize: 20, pageToken: "", statuses: failed ? [OrderStatus.FAILED] : PLACED },
    { pageParamKey: "pageToken", getNextPageParam: nextPage },
  );
  const shown = orders.data?.pages.flatMap((page) => page.orders) ?? [];
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">{t(failed ? m.failedAttempts : m.yourOrders)}</h1>
      {failed && <p>{t(m.failedAbout)}</p>}
      {orders.isPending && <p role="status">{t(m.loadingOrders)}</p>}
      {orders.isError && <Problem error={orders.error} />}
      {orders.isSuccess && shown.length === 0 && <p>{t(failed ? m.noFailed : m.noOrders)}</p>}
      <ul className="cart" aria-label={t(m.orders)}>
        {shown.map((order) => (
          <li key={order.id}>
            <Link to={`/orders/${order.id}`}>{t(m.orderOf, { date: format.date(order.createdAt) })}</Link>{" "}
            <span data-testid="order-status">{t(STATUS[order.status])}</span> {format.money(order.total)}
          </li>
        ))}
      </ul>
      <More {...orders} />
      <p>
        {failed ? <Link to="/orders">{t(m.backToOrders)}</Link> : <Link to="/orders?failed=1">{t(m.showFailed)}</Link>}
      </p>
    </section>
  );
}

export function OrderPage({ id }: { id: string }) {
  const { t } = useLanguage();
  const format = useFormat();
  const answers = useAnswers();
  const order = useQuery(OrderService.method.getOrder, { id }, { retry: false });
  const cancel = useMutation(OrderService.method.cancelOrder, {
    onSuccess: (answer) => {
      answers.put(OrderService.method.getOrder, { id }, { order: answer.order });
      void answers.refresh(OrderService.method.listOrders);
    },
    // Refused because the order moved on (shipped meanwhile, say): show it as it is now.
    onError: () => answers.refresh(OrderService.method.getOrder, { id }),
  });
  if (order.isPending) return <p role="status">{t(m.loadingOrder)}</p>;
  const missing = [Code.NotFound, Code.InvalidArgument].includes(ConnectError.from(order.error).code);
  if (order.isError && !missing) return <Problem error={order.error} />;
  if (order.isError)
    return (
      <section>
        <h1>{t(m.notFound)}</h1>
        <p role="alert" className="problem">
          {t(m.notInAccount)}
        </p>
      </section>
    );
  const o = order.data.order!;
  return (
    <article aria-labelledby="order-title">
      <h1 id="order-title">{t(m.yourOrder)}</h1>
      <p>
        {t(m.status)} <strong data-testid="order-status">{t(STATUS[o.status])}</strong>
      </p>
      {o.status === OrderStatus.CONFIRMED && <p>{t(m.thanks)}</p>}
      {(o.status === OrderStatus.FAILED || o.status === OrderStatus.CANCELLED) && o.failureReason && (
        <p>{t(explainFailure(o.failureReason))}</p>
      )}
      {o.trackingNumber && <p>{t(m.tracking, { number: o.trackingNumber })}</p>}
      <ul className="cart" aria-label={t(m.items)}>
        {o.items.map((item) => (
          <li key={item.skuId}>
            {t(m.item, {
              name: item.productName,
              code: item.skuCode,
              quantity: format.count(item.quantity),
              amount: format.money(item.lineTotal),
            })}
          </li>
        ))}
      </ul>
      <p>{t(m.shipping, { amount: format.money(o.shippingFee) })}</p>
      <p className="price">{t(m.total, { amount: format.money(o.total) })}</p>
      {o.status === OrderStatus.CONFIRMED && (
        <Confirm
          action={t(m.cancel)}
          target=""
          question={t(m.cancelQuestion)}
          confirm={t(m.cancelConfirm)}
          pendingText={t(m.cancelling)}
          pending={cancel.isPending}
          onConfirm={() => {
            cancel.mutate({ id, reason: "changed my mind" });
          }}
        />
      )}
      {cancel.isError && <Problem error={cancel.error} />}
    </article>
  );
}
