import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import type { Clients } from "./api";
import { explain } from "./errors";
import type { Cart } from "./gen/order/v1/types_pb";
import { messages, useLanguage } from "./i18n";
import { Link, type Navigate } from "./Link";
import { formatMoney } from "./money";

const m = messages({
  loading: { en: "Loading your cart…", ja: "カートを読み込んでいます…" },
  title: { en: "Your cart", ja: "カート" },
  empty: { en: "Your cart is empty.", ja: "カートは空です。" },
  browse: { en: "Browse the shop", ja: "商品を見る" },
  unavailable: { en: "No longer available: remove it to check out.", ja: "販売終了しました。購入手続きの前に削除してください。" },
  short: { en: "Only {count} left: lower the quantity to check out.", ja: "残り{count}点です。数量を減らしてから購入手続きへ進んでください。" },
  quantity: { en: "Quantity", ja: "数量" },
  remove: { en: "Remove", ja: "削除" },
  subtotal: { en: "Subtotal: {amount}", ja: "小計：{amount}" },
  checkOut: { en: "Check out", ja: "購入手続きへ" },
});

export function CartPage({ api, navigate }: { api: Clients; navigate: Navigate }) {
  const { t, tag } = useLanguage();
  const queries = useQueryClient();
  const cart = useQuery({ queryKey: ["cart"], queryFn: async () => (await api.carts.getCart({})).cart });
  const saved = (answer: { cart?: Cart }) => queries.setQueryData(["cart"], answer.cart);
  const update = useMutation({
    mutationFn: ({ skuId, quantity }: { skuId: string; quantity: bigint }) =>
      api.carts.updateCartItem({ skuId, quantity }),
    onSuccess: saved,
  });
  const remove = useMutation({ mutationFn: (skuId: string) => api.carts.removeCartItem({ skuId }), onSuccess: saved });

  if (cart.isPending) return <p role="status">{t(m.loading)}</p>;
  if (cart.isError)
    return (
      <p role="alert" className="problem">
        {t(explain(cart.error))}
      </p>
    );
  const items = cart.data?.items ?? [];
  const failed = update.error ?? remove.error;
  const subtotal = cart.data?.subtotal;
  return (
    <section aria-labelledby="cart-title">
      <h1 id="cart-title">{t(m.title)}</h1>
      {failed && (
        <p role="alert" className="problem">
          {t(explain(failed))}
        </p>
      )}
      {items.length === 0 ? (
        <p>
          {t(m.empty)}{" "}
          <Link to="/" navigate={navigate}>
            {t(m.browse)}
          </Link>
        </p>
      ) : (
        <>
          <ul className="cart">
            {items.map((line) => (
              <li key={line.skuId}>
                <h2>
                  <Link to={`/products/${line.productId}`} navigate={navigate}>
                    {line.productName}
                  </Link>
                </h2>
                <p>{line.skuCode}</p>
                {!line.purchasable && <p className="problem">{t(m.unavailable)}</p>}
                {line.purchasable && line.availableQuantity < line.quantity && (
                  <p className="problem">{t(m.short, { count: line.availableQuantity })}</p>
                )}
                <label htmlFor={`quantity-${line.skuId}`}>{t(m.quantity)}</label>{" "}
                <input
                  id={`quantity-${line.skuId}`}
                  type="number"
                  min={1}
                  max={99}
                  defaultValue={String(line.quantity)}
                  onChange={(e) => {
                    const quantity = Number(e.target.value);
                    if (Number.isInteger(quantity) && quantity >= 1 && quantity <= 99)
                      update.mutate({ skuId: line.skuId, quantity: BigInt(quantity) });
                  }}
                />{" "}
                <span className="price" data-testid="line-total">
                  {line.lineTotal ? formatMoney(line.lineTotal.amount, line.lineTotal.currencyCode, tag) : ""}
                </span>{" "}
                <button type="button" onClick={() => remove.mutate(line.skuId)} disabled={remove.isPending}>
                  {t(m.remove)} <span className="visually-hidden">{line.productName}</span>
                </button>
              </li>
            ))}
          </ul>
          <p className="price" data-testid="subtotal">
            {t(m.subtotal, { amount: subtotal ? formatMoney(subtotal.amount, subtotal.currencyCode, tag) : "" })}
          </p>
          <button type="button" onClick={() => navigate("/checkout")}>
            {t(m.checkOut)}
          </button>
        </>
      )}
    </section>
  );
}
