import type { MessageInitShape } from "@bufbuild/protobuf";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useRef, useState } from "react";

import type { Clients } from "./api";
import { explain, explainFailure } from "./errors";
import type { CreateOrderRequestSchema } from "./gen/order/v1/order_service_pb";
import { type Order, OrderStatus } from "./gen/order/v1/types_pb";
import { Link, type Navigate } from "./Link";
import { formatMoney } from "./money";

const STATUS: Record<OrderStatus, string> = {
  [OrderStatus.UNSPECIFIED]: "Unknown",
  [OrderStatus.PENDING]: "Being placed",
  [OrderStatus.CONFIRMED]: "Confirmed",
  [OrderStatus.FAILED]: "Failed",
  [OrderStatus.CANCELLED]: "Cancelled",
  [OrderStatus.SHIPPED]: "Shipped",
};

function money(amount?: { amount: bigint; currencyCode: string }): string {
  return amount ? formatMoney(amount.amount, amount.currencyCode, navigator.language) : "";
}

type CreateOrder = MessageInitShape<typeof CreateOrderRequestSchema>;

const FIELDS = [
  ["recipientName", "Full name", "name"],
  ["line1", "Address", "address-line1"],
  ["line2", "Apartment, suite (optional)", "address-line2"],
  ["city", "City", "address-level2"],
  ["region", "Prefecture or state", "address-level1"],
  ["postalCode", "Postal code", "postal-code"],
  ["phone", "Phone", "tel"],
] as const;

/**
 * Checkout: the address, a card, and one press of "Place order". The idempotency key belongs to the request:
 * a retry of the same request (a double click, a lost answer) reuses it, so it can never make two orders; a
 * changed request, or a new attempt after a failed order, gets a new one.
 */
export function CheckoutPage({ api, navigate }: { api: Clients; navigate: Navigate }) {
  const queries = useQueryClient();
  const [address, setAddress] = useState<Record<string, string>>({ countryCode: "JP" });
  const [card, setCard] = useState("");
  const [failed, setFailed] = useState<Order | null>(null);
  const attempt = useRef<{ key: string; request: string } | null>(null);
  const place = useMutation({
    mutationFn: (request: CreateOrder) => api.orders.createOrder(request),
    onSuccess: (answer) => {
      const order = answer.order!;
      attempt.current = null; // the outcome is known: a new attempt is a new order
      if (order.status === OrderStatus.FAILED) {
        setFailed(order);
        return;
      }
      void queries.invalidateQueries({ queryKey: ["cart"] });
      void queries.invalidateQueries({ queryKey: ["orders"] });
      queries.setQueryData(["order", order.id], order);
      navigate(`/orders/${order.id}`);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (place.isPending) return;
    const request = JSON.stringify({ address, card });
    if (attempt.current?.request !== request) attempt.current = { key: crypto.randomUUID(), request };
    setFailed(null);
    place.mutate({
      idempotencyKey: attempt.current.key,
      shippingAddress: address,
      paymentToken: card.replace(/\s+/g, ""),
    });
  };

  return (
    <section aria-labelledby="checkout-title">
      <h1 id="checkout-title">Checkout</h1>
      {failed && (
        <p role="alert" className="problem">
          {explainFailure(failed.failureReason)}
        </p>
      )}
      {place.isError && (
        <p role="alert" className="problem">
          {explain(place.error)}
        </p>
      )}
      <form onSubmit={submit} className="checkout">
        <fieldset>
          <legend>Shipping address</legend>
          {FIELDS.map(([name, label, autocomplete]) => (
            <p key={name}>
              <label htmlFor={name}>{label}</label>
              <input
                id={name}
                autoComplete={autocomplete}
                required={name !== "line2"}
                maxLength={200}
                value={address[name] ?? ""}
                onChange={(e) => setAddress({ ...address, [name]: e.target.value })}
              />
            </p>
          ))}
          <p>
            <label htmlFor="countryCode">Country</label>
            <select
              id="countryCode"
              value={address.countryCode}
              onChange={(e) => setAddress({ ...address, countryCode: e.target.value })}
            >
              <option value="JP">Japan</option>
              <option value="US">United States</option>
            </select>
          </p>
        </fieldset>
        <fieldset>
          <legend>Payment</legend>
          <p>
            <label htmlFor="card">Card number</label>
            <input
              id="card"
              inputMode="numeric"
              autoComplete="cc-number"
              required
              maxLength={23}
              value={card}
              onChange={(e) => setCard(e.target.value)}
              aria-describedby="card-help"
            />
          </p>
          <p id="card-help" className="help">
            Test mode: 4242 4242 4242 4242 is approved, 4000 0000 0000 0002 is declined.
          </p>
        </fieldset>
        <button type="submit" aria-disabled={place.isPending}>
          {place.isPending ? "Placing your order…" : "Place order"}
        </button>
      </form>
    </section>
  );
}

export function OrdersPage({ api, navigate }: { api: Clients; navigate: Navigate }) {
  const orders = useInfiniteQuery({
    queryKey: ["orders"],
    queryFn: ({ pageParam }) => api.orders.listOrders({ pageSize: 20, pageToken: pageParam }),
    initialPageParam: "",
    getNextPageParam: (last) => last.nextPageToken || undefined,
  });
  const shown = orders.data?.pages.flatMap((page) => page.orders) ?? [];
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">Your orders</h1>
      {orders.isPending && <p role="status">Loading your orders…</p>}
      {orders.isError && (
        <p role="alert" className="problem">
          {explain(orders.error)}
        </p>
      )}
      {orders.isSuccess && shown.length === 0 && <p>You have not ordered anything yet.</p>}
      <ul className="cart" aria-label="Orders">
        {shown.map((order) => (
          <li key={order.id}>
            <Link to={`/orders/${order.id}`} navigate={navigate}>
              Order of {order.createdAt ? new Date(Number(order.createdAt.seconds) * 1000).toLocaleString() : ""}
            </Link>{" "}
            <span data-testid="order-status">{STATUS[order.status]}</span> {money(order.total)}
          </li>
        ))}
      </ul>
      {orders.hasNextPage && (
        <button type="button" onClick={() => void orders.fetchNextPage()} disabled={orders.isFetchingNextPage}>
          Load more
        </button>
      )}
    </section>
  );
}

export function OrderPage({ id, api }: { id: string; api: Clients }) {
  const queries = useQueryClient();
  const order = useQuery({
    queryKey: ["order", id],
    queryFn: async () => (await api.orders.getOrder({ id })).order!,
    retry: false,
  });
  const cancel = useMutation({
    mutationFn: () => api.orders.cancelOrder({ id, reason: "changed my mind" }),
    onSuccess: (answer) => {
      queries.setQueryData(["order", id], answer.order);
      void queries.invalidateQueries({ queryKey: ["orders"] });
    },
  });
  if (order.isPending) return <p role="status">Loading the order…</p>;
  if (order.isError)
    return (
      <section>
        <h1>Order not found</h1>
        <p role="alert" className="problem">
          We could not find this order in your account.
        </p>
      </section>
    );
  const o = order.data;
  return (
    <article aria-labelledby="order-title">
      <h1 id="order-title">Your order</h1>
      <p>
        Status: <strong data-testid="order-status">{STATUS[o.status]}</strong>
      </p>
      {o.status === OrderStatus.CONFIRMED && <p>Thank you! Your order is confirmed and will be shipped soon.</p>}
      {(o.status === OrderStatus.FAILED || o.status === OrderStatus.CANCELLED) && o.failureReason && (
        <p>{explainFailure(o.failureReason)}</p>
      )}
      {o.trackingNumber && <p>Tracking number: {o.trackingNumber}</p>}
      <ul className="cart" aria-label="Items">
        {o.items.map((item) => (
          <li key={item.skuId}>
            {item.productName} ({item.skuCode}) × {String(item.quantity)}: {money(item.lineTotal)}
          </li>
        ))}
      </ul>
      <p>Shipping: {money(o.shippingFee)}</p>
      <p className="price">Total: {money(o.total)}</p>
      {o.status === OrderStatus.CONFIRMED && (
        <button type="button" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
          {cancel.isPending ? "Cancelling…" : "Cancel order"}
        </button>
      )}
      {cancel.isError && (
        <p role="alert" className="problem">
          {explain(cancel.error)}
        </p>
      )}
    </article>
  );
}
