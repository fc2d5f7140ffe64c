import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";

import { useAnswers } from "./api";
import { CART_ERRORS } from "./errors";
import { CartService } from "./gen/order/v1/cart_service_pb";
import type { Cart } from "./gen/order/v1/types_pb";
import { messages, useLanguage } from "./i18n";
import { formatMoney } from "./money";
import { Problem, SubmitButton, useFormat } from "./ui";

const m = messages({
  loading: { en: "Loading your cart…", ja: "カートを読み込んでいます…" },
  title: { en: "Your cart", ja: "カート" },
  empty: { en: "Your cart is empty.", ja: "カートは空です。" },
  browse: { en: "Browse the shop", ja: "商品を見る" },
  unavailable: {
    en: "No longer available: remove it to check out.",
    ja: "販売終了しました。購入手続きの前に削除してください。",
  },
  short: {
    en: "Only {count} left: lower the quantity to check out.",
    ja: "残り{count}点です。数量を減らしてから購入手続きへ進んでください。",
  },
  quantity: { en: "Quantity", ja: "数量" },
  remove: { en: "Remove", ja: "削除" },
  subtotal: { en: "Subtotal: {amount}", ja: "小計：{amount}" },
  saving: { en: "Saving your cart…", ja: "カートを保存しています…" },
  checkOut: { en: "Check out", ja: "購入手続きへ" },
});

export function CartPage() {
  const { t, tag } = useLanguage();
  const format = useFormat();
  const navigate = useNavigate();
  const answers = useAnswers();
  const cart = useQuery(CartService.method.getCart, {});
  // Changes to the cart are sent one at a time, in order (one scope), and a refused one reloads the cart, so
  // what is shown is always what the cart holds.
  const changes = {
    scope: { id: "cart" },
    onSuccess: (answer: { cart?: Cart }) => {
      answers.put(CartService.method.getCart, {}, { cart: answer.cart });
    },
    onError: () => answers.refresh(CartService.method.getCart),
  };
  const update = useMutation(CartService.method.updateCartItem, changes);
  const remove = useMutation(CartService.method.removeCartItem, changes);

  if (cart.isPending) return <p role="status">{t(m.loading)}</p>;
  if (cart.isError) return <Problem error={cart.error} />;
  const items = cart.data.cart?.items ?? [];
  const failed = update.error ?? remove.error;
  const subtotal = cart.data.cart?.subtotal;
  return (
    <section aria-labelledby="cart-title">
      <h1 id="cart-title">{t(m.title)}</h1>
      {failed && <Problem error={failed} known={CART_ERRORS} />}
      {items.length === 0 ? (
        <p>
          {t(m.empty)} <Link to="/">{t(m.browse)}</Link>
        </p>
      ) : (
        <>
          <ul className="cart">
            {items.map((line) => (
              <li key={line.skuId}>
                <h2>
                  <Link to={`/products/${line.productId}`}>{line.productName}</Link>
                </h2>
                <p>{line.skuCode}</p>
                {!line.purchasable && <p className="problem">{t(m.unavailable)}</p>}
                {line.purchasable && line.availableQuantity < line.quantity && (
                  <p className="problem">{t(m.short, { count: format.count(line.availableQuantity) })}</p>
                )}
                <Quantity
                  key={String(line.quantity)}
                  skuId={line.skuId}
                  code={line.skuCode}
                  quantity={line.quantity}
                  save={(quantity) => {
                    update.mutate({ skuId: line.skuId, quantity });
                  }}
                />{" "}
                <span className="price" data-testid="line-total">
                  {line.lineTotal ? formatMoney(line.lineTotal.amount, line.lineTotal.currencyCode, tag) : ""}
                </span>{" "}
                <SubmitButton
                  type="button"
                  pending={remove.isPending}
                  pendingText={t(m.remove)}
                  target={`${line.productName} ${line.skuCode}`}
                  onClick={() => {
                    remove.mutate({ skuId: line.skuId });
                  }}
                >
                  {t(m.remove)}
                </SubmitButton>
              </li>
            ))}
          </ul>
          {(update.isPending || remove.isPending) && <p role="status">{t(m.saving)}</p>}
          <p className="price" data-testid="subtotal">
            {t(m.subtotal, { amount: subtotal ? formatMoney(subtotal.amount, subtotal.currencyCode, tag) : "" })}
          </p>
          <button
            type="button"
            onClick={() => {
              void navigate("/checkout");
            }}
          >
            {t(m.checkOut)}
          </button>
        </>
      )}
    </section>
  );
}

interface QuantityProps {
  skuId: string;
  code: string;
  quantity: bigint;
  save: (quantity: bigint) => void;
}

/** A line's quantity, saved when the shopper leaves the field or presses Enter: not at every keystroke. */
function Quantity({ skuId, code, quantity, save }: QuantityProps) {
  const { t } = useLanguage();
  const [typed, setTyped] = useState(String(quantity));
  const commit = () => {
    const wanted = Number(typed);
    if (Number.isInteger(wanted) && wanted >= 1 && wanted <= 99 && BigInt(wanted) !== quantity) save(BigInt(wanted));
  };
  return (
    <>
      <label htmlFor={`quantity-${skuId}`}>
        {t(m.quantity)} <span className="visually-hidden">{code}</span>
      </label>{" "}
      <input
        id={`quantity-${skuId}`}
        type="number"
        min={1}
        max={99}
        value={typed}
        onChange={(e) => setTyped(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => e.key === "Enter" && commit()}
      />
    </>
  );
}
