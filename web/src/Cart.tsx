import { skipToken, useMutation, useQuery } from "@connectrpc/connect-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";

import { useAnswers } from "./api";
import { CART_ERRORS } from "./errors";
import { CartService } from "./gen/order/v1/cart_service_pb";
import { ProductService } from "./gen/product/v1/product_service_pb";
import { useGuestCart } from "./guestCart";
import type { Cart } from "./gen/order/v1/types_pb";
import { messages, useLanguage } from "./i18n";
import { formatMoney } from "./money";
import { useSession } from "./session";
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
  signInToCheckOut: { en: "Sign in to check out", ja: "ログインして購入手続きへ" },
  guestNote: {
    en: "Kept in this browser until you sign in; then it joins your account's cart.",
    ja: "ログインするまでこのブラウザーに保存され、ログインするとアカウントのカートに移ります。",
  },
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

/**
 * The cart of a shopper who has not signed in (guestCart.ts): its lines priced from the catalog as it is now,
 * changed here, and checked out once signed in, when it has joined the account's cart.
 */
export function GuestCartPage() {
  const { t, tag } = useLanguage();
  const { signIn } = useSession();
  const guest = useGuestCart();
  const ids = guest.lines.map((line) => line.skuId);
  const found = useQuery(ProductService.method.batchGetSkus, ids.length > 0 ? { ids } : skipToken);
  if (ids.length === 0)
    return (
      <section aria-labelledby="cart-title">
        <h1 id="cart-title">{t(m.title)}</h1>
        <p>
          {t(m.empty)} <Link to="/">{t(m.browse)}</Link>
        </p>
      </section>
    );
  if (found.isPending) return <p role="status">{t(m.loading)}</p>;
  if (found.isError) return <Problem error={found.error} />;
  const skus = new Map(found.data.skus.map((entry) => [entry.sku?.id, entry]));
  const money = (amount: bigint, currency: string) => formatMoney(amount, currency, tag);
  const priced = guest.lines.flatMap((line) => {
    const price = skus.get(line.skuId)?.sku?.price;
    return price ? [{ amount: price.amount * BigInt(line.quantity), currency: price.currencyCode }] : [];
  });
  const currency = priced[0]?.currency;
  const subtotal = priced.filter((p) => p.currency === currency).reduce((sum, p) => sum + p.amount, 0n);
  return (
    <section aria-labelledby="cart-title">
      <h1 id="cart-title">{t(m.title)}</h1>
      <p>{t(m.guestNote)}</p>
      <ul className="cart">
        {guest.lines.map((line) => {
          const entry = skus.get(line.skuId);
          const sku = entry?.sku;
          const name = entry?.productName ?? "";
          return (
            <li key={line.skuId}>
              {sku ? (
                <h2>
                  <Link to={`/products/${sku.productId}`}>{name}</Link>
                </h2>
              ) : (
                <p className="problem">{t(m.unavailable)}</p>
              )}
              {sku && <p>{sku.code}</p>}
              {sku && (
                <>
                  <Quantity
                    key={String(line.quantity)}
                    skuId={line.skuId}
                    code={sku.code}
                    quantity={BigInt(line.quantity)}
                    save={(quantity) => {
                      guest.setQuantity(line.skuId, Number(quantity));
                    }}
                  />{" "}
                  <span className="price" data-testid="line-total">
                    {sku.price ? money(sku.price.amount * BigInt(line.quantity), sku.price.currencyCode) : ""}
                  </span>{" "}
                </>
              )}
              <button
                type="button"
                onClick={() => {
                  guest.remove(line.skuId);
                }}
              >
                {t(m.remove)}
                <span className="visually-hidden"> {sku ? `${name} ${sku.code}` : line.skuId}</span>
              </button>
            </li>
          );
        })}
      </ul>
      {currency && (
        <p className="price" data-testid="subtotal">
          {t(m.subtotal, { amount: money(subtotal, currency) })}
        </p>
      )}
      <button
        type="button"
        onClick={() => {
          signIn();
        }}
      >
        {t(m.signInToCheckOut)}
      </button>
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
