import { Code } from "@connectrpc/connect";
import { useMutation } from "@connectrpc/connect-query";
import { type FormEvent, useEffect, useId, useRef, useState } from "react";

import { ProductService } from "../gen/product/v1/product_service_pb";
import type { Product, Sku } from "../gen/product/v1/types_pb";
import { type Message, messages, useLanguage } from "../i18n";
import { fromMinorUnits, toMinorUnits } from "../money";
import { Confirm, Field, Problem, SubmitButton } from "../ui";
import { useCatalogChanged, wholeNumber } from "./common";
import { SkuStock } from "./Stock";

const m = messages({
  title: { en: "SKUs and stock", ja: "SKUと在庫" },
  none: { en: "No SKU yet.", ja: "SKUはまだありません。" },
  newSku: { en: "Add a SKU", ja: "SKUを追加" },
  code: { en: "SKU code", ja: "SKUコード" },
  codeHelp: {
    en: "Unique in the shop: letters, digits, “.”, “_” or “-”, e.g. SENCHA-100G.",
    ja: "ショップ内で一意。英数字と「.」「_」「-」が使えます（例：SENCHA-100G）。",
  },
  price: { en: "Price", ja: "価格" },
  currency: { en: "Currency", ja: "通貨" },
  currencyHelp: {
    en: "ISO 4217 code, e.g. JPY or USD; every SKU of a product has the same.",
    ja: "ISO 4217のコード（例：JPY、USD）。同じ商品のSKUはすべて同じ通貨です。",
  },
  attributes: { en: "Attributes", ja: "属性" },
  attributesHelp: {
    en: "One name=value per line, e.g. size=100g.",
    ja: "1行に1つ「名前=値」の形で（例：size=100g）。",
  },
  initialStock: { en: "Initial stock", ja: "初期在庫" },
  add: { en: "Add SKU", ja: "SKUを追加" },
  adding: { en: "Adding…", ja: "追加しています…" },
  badPrice: {
    en: "Enter the price as an amount of {currency}, e.g. {example}.",
    ja: "価格は{currency}の金額で入力してください（例：{example}）。",
  },
  badAttributes: {
    en: "Write each attribute on its own line as name=value, e.g. size=100g.",
    ja: "属性は1行に1つ「名前=値」の形で入力してください（例：size=100g）。",
  },
  invalid: {
    en: "Check the SKU: its code, a currency such as JPY or USD that the product's other SKUs share, and at most 20 attributes.",
    ja: "SKUを確認してください：コード、商品のほかのSKUと同じ通貨（JPY、USDなど）、20個以内の属性。",
  },
  taken: { en: "Another SKU already has this code.", ja: "このコードはほかのSKUで使われています。" },
  changePrice: { en: "Change price", ja: "価格を変更" },
  newPrice: { en: "New price ({currency})", ja: "新しい価格（{currency}）" },
  newPriceHelp: {
    en: "Carts show it at once; orders already placed keep the price they were placed at.",
    ja: "カートにはすぐに反映されます。確定済みの注文は注文時の価格のままです。",
  },
  savePrice: { en: "Save price", ja: "価格を保存" },
  savingPrice: { en: "Saving…", ja: "保存しています…" },
  cancel: { en: "Cancel", ja: "キャンセル" },
  priceSaved: { en: "Price saved.", ja: "価格を保存しました。" },
  deleteSku: { en: "Delete SKU", ja: "SKUを削除" },
  deleteQuestion: {
    en: "Delete {code}? It leaves the catalog and carts; orders already placed keep it.",
    ja: "{code}を削除しますか？カタログとカートから消えます。確定済みの注文には残ります。",
  },
  deleteConfirm: { en: "Yes, delete the SKU", ja: "はい、SKUを削除します" },
  deleting: { en: "Deleting…", ja: "削除しています…" },
  reserved: {
    en: "Stock of this SKU is held for an order being placed: try again in a few minutes.",
    ja: "このSKUの在庫は処理中の注文のために確保されています。数分後にもう一度お試しください。",
  },
});

/** A product's SKUs, each with its stock, and the form to add one. */
export function Skus({ product }: { product: Product }) {
  const { t } = useLanguage();
  return (
    <section aria-labelledby="skus-title">
      <h2 id="skus-title">{t(m.title)}</h2>
      {product.skus.length === 0 && <p>{t(m.none)}</p>}
      {product.skus.map((sku) => (
        <SkuStock key={sku.id} sku={sku}>
          <SkuActions sku={sku} />
        </SkuStock>
      ))}
      <NewSku product={product} />
    </section>
  );
}

/** "size=100g" lines as attributes; undefined when a line is not a name, "=" and a value. */
function parseAttributes(text: string): Record<string, string> | undefined {
  const attributes: Record<string, string> = {};
  for (const line of text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)) {
    const equals = line.indexOf("=");
    if (equals < 0) return undefined;
    const [name, value] = [line.slice(0, equals).trim(), line.slice(equals + 1).trim()];
    if (!name || !value) return undefined;
    attributes[name] = value;
  }
  return attributes;
}

function NewSku({ product }: { product: Product }) {
  const { t } = useLanguage();
  const changed = useCatalogChanged();
  const id = useId();
  const empty = {
    code: "",
    price: "",
    currency: product.skus[0]?.price?.currencyCode ?? "JPY",
    attributes: "",
    quantity: "0",
  };
  const [form, setForm] = useState(empty);
  const [mistake, setMistake] = useState<{ message: Message; values?: Record<string, string> } | null>(null);
  const create = useMutation(ProductService.method.createSku, {
    onSuccess: () => {
      setForm(empty);
      return changed();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const currency = form.currency.trim().toUpperCase();
    const price = toMinorUnits(form.price, currency);
    const attributes = parseAttributes(form.attributes);
    if (price === undefined)
      setMistake({ message: m.badPrice, values: { currency, example: fromMinorUnits(1250n, currency) } });
    else if (!attributes) setMistake({ message: m.badAttributes });
    else {
      setMistake(null);
      create.mutate({
        productId: product.id,
        code: form.code.trim(),
        price: { amount: price, currencyCode: currency },
        attributes,
        initialQuantity: wholeNumber(form.quantity),
      });
    }
  };
  const field = (name: keyof typeof form) => ({
    id: `${id}-${name}`,
    value: form[name],
    onChange: (e: { target: { value: string } }) => {
      setForm({ ...form, [name]: e.target.value });
    },
  });

  return (
    <section aria-labelledby={`${id}-title`} className="card">
      <h3 id={`${id}-title`}>{t(m.newSku)}</h3>
      <form onSubmit={submit} className="stacked">
        <Field
          {...field("code")}
          label={t(m.code)}
          help={t(m.codeHelp)}
          required
          maxLength={100}
          pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
          autoCapitalize="characters"
        />
        <Field {...field("price")} label={t(m.price)} required inputMode="decimal" />
        <Field
          {...field("currency")}
          label={t(m.currency)}
          help={t(m.currencyHelp)}
          required
          pattern="[A-Za-z]{3}"
          maxLength={3}
          autoCapitalize="characters"
        />
        <Field
          id={`${id}-attributes`}
          label={t(m.attributes)}
          help={t(m.attributesHelp)}
          control={(wiring) => <textarea {...field("attributes")} {...wiring} rows={3} />}
        />
        <Field {...field("quantity")} label={t(m.initialStock)} type="number" required min={0} step={1} />
        <SubmitButton pending={create.isPending} pendingText={t(m.adding)}>
          {t(m.add)}
        </SubmitButton>
      </form>
      {mistake && (
        <p role="alert" className="problem">
          {t(mistake.message, mistake.values)}
        </p>
      )}
      {create.isError && (
        <Problem error={create.error} known={{ [Code.InvalidArgument]: m.invalid, [Code.AlreadyExists]: m.taken }} />
      )}
    </section>
  );
}

/** A SKU's price changed, or the SKU deleted (after a confirmation). */
function SkuActions({ sku }: { sku: Sku }) {
  const { t } = useLanguage();
  const changed = useCatalogChanged();
  const id = useId();
  const currency = sku.price?.currencyCode ?? "JPY";
  const [price, setPrice] = useState<string | null>(null);
  const [mistake, setMistake] = useState<Message | null>(null);
  const [saved, setSaved] = useState(false);
  // Focus follows the form: into its field when it opens, back to the button that opened it when it closes.
  const opener = useRef<HTMLButtonElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const moved = useRef(false);
  useEffect(() => {
    if (!moved.current) return;
    (price === null ? opener : input).current?.focus();
  }, [price === null]); // eslint-disable-line react-hooks/exhaustive-deps -- only when the form opens or closes
  const toggle = (next: string | null) => {
    moved.current = true;
    setMistake(null);
    setPrice(next);
  };
  const update = useMutation(ProductService.method.updateSku, {
    onSuccess: () => {
      toggle(null);
      setSaved(true);
      return changed();
    },
  });
  const remove = useMutation(ProductService.method.deleteSku, { onSuccess: () => changed() });
  const save = (event: FormEvent) => {
    event.preventDefault();
    const amount = price === null ? undefined : toMinorUnits(price, currency);
    if (amount === undefined) {
      setMistake(m.badPrice);
      return;
    }
    setMistake(null);
    update.mutate({ id: sku.id, price: { amount, currencyCode: currency } });
  };
  return (
    <>
      {price === null ? (
        <p className="inline-form">
          <button
            ref={opener}
            type="button"
            className="secondary"
            onClick={() => {
              setSaved(false);
              toggle(fromMinorUnits(sku.price?.amount ?? 0n, currency));
            }}
          >
            {t(m.changePrice)} <span className="visually-hidden">{sku.code}</span>
          </button>
        </p>
      ) : (
        <form onSubmit={save} className="inline-form">
          <Field
            id={`${id}-price`}
            label={t(m.newPrice, { currency })}
            help={t(m.newPriceHelp)}
            required
            inputMode="decimal"
            ref={input}
            value={price}
            onChange={(e) => {
              setPrice(e.target.value);
            }}
          />
          <p>
            <SubmitButton pending={update.isPending} pendingText={t(m.savingPrice)}>
              {t(m.savePrice)}
            </SubmitButton>{" "}
            <button type="button" className="secondary" onClick={() => toggle(null)}>
              {t(m.cancel)}
            </button>
          </p>
        </form>
      )}
      {/* Always there, so that a screen reader announces the text when it appears. */}
      <p role="status">{saved ? t(m.priceSaved) : ""}</p>
      {mistake && (
        <p role="alert" className="problem">
          {t(mistake, { currency, example: fromMinorUnits(1250n, currency) })}
        </p>
      )}
      {update.isError && <Problem error={update.error} known={{ [Code.InvalidArgument]: m.invalid }} />}
      <Confirm
        action={t(m.deleteSku)}
        target={sku.code}
        question={t(m.deleteQuestion, { code: sku.code })}
        confirm={t(m.deleteConfirm)}
        pendingText={t(m.deleting)}
        pending={remove.isPending}
        onConfirm={() => {
          remove.mutate({ id: sku.id });
        }}
      />
      {remove.isError && <Problem error={remove.error} known={{ [Code.FailedPrecondition]: m.reserved }} />}
    </>
  );
}
