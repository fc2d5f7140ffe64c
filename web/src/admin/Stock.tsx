import { Code, ConnectError } from "@connectrpc/connect";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { type FormEvent, type ReactNode, useId, useState } from "react";

import { type GetInventoryResponse, InventoryService } from "../gen/product/v1/inventory_service_pb";
import type { Inventory, Sku } from "../gen/product/v1/types_pb";
import { messages, useLanguage } from "../i18n";
import { Field, Problem, SubmitButton, useFormat } from "../ui";
import { useCatalogChanged, wholeNumber } from "./common";

const m = messages({
  loading: { en: "Loading the stock…", ja: "在庫を読み込んでいます…" },
  onHand: { en: "On hand", ja: "在庫数" },
  reserved: { en: "Reserved", ja: "引当中" },
  available: { en: "Available", ja: "販売可能" },
  version: { en: "Version", ja: "バージョン" },
  setStock: { en: "Set stock", ja: "在庫数を設定" },
  counted: { en: "Quantity on hand", ja: "在庫数" },
  countedHelp: {
    en: "Your count replaces the figure read at version {version} ({quantity} on hand). If the stock changed since, nothing is saved.",
    ja: "バージョン{version}（在庫数{quantity}）の数値をこの数で置き換えます。その後に在庫が変わっていた場合は保存されません。",
  },
  save: { en: "Save stock", ja: "在庫数を保存" },
  saving: { en: "Saving…", ja: "保存しています…" },
  cancel: { en: "Cancel", ja: "キャンセル" },
  saved: { en: "Stock set to {quantity}.", ja: "在庫数を{quantity}にしました。" },
  conflict: {
    en: "Someone else changed this stock after you started: nothing was saved. The figures above are reloaded: check your count against them and save again.",
    ja: "入力中にほかの人がこの在庫を変更したため、保存されませんでした。上の数値を最新にしたので、確認してもう一度保存してください。",
  },
  belowReserved: {
    en: "The quantity on hand cannot go below the units reserved by checkouts in progress.",
    ja: "在庫数を、手続き中の注文が引き当てている数より少なくすることはできません。",
  },
  negative: { en: "The quantity cannot be negative.", ja: "在庫数をマイナスにすることはできません。" },
  changeBy: { en: "Change by", ja: "増減数" },
  changeHelp: {
    en: "Positive to add stock (a delivery), negative to remove it (breakage).",
    ja: "入荷はプラス、破損などによる減少はマイナスで入力します。",
  },
  reason: { en: "Reason", ja: "理由" },
  adjust: { en: "Adjust stock", ja: "在庫を増減" },
  adjusting: { en: "Adjusting…", ja: "増減しています…" },
  adjusted: { en: "Stock adjusted: {quantity} on hand.", ja: "在庫を増減しました。在庫数：{quantity}" },
  badAdjustment: {
    en: "Enter a change other than zero, and a reason of at most 500 characters.",
    ja: "0以外の増減数と、500文字以内の理由を入力してください。",
  },
});

const inventoryOf = (answer: GetInventoryResponse) => answer.inventory!;

/** One SKU: its price and attributes, its stock figures, and the two ways to change the stock. */
export function SkuStock({ sku, children }: { sku: Sku; children?: ReactNode }) {
  const { t } = useLanguage();
  const format = useFormat();
  const id = useId();
  const inventory = useQuery(InventoryService.method.getInventory, { skuId: sku.id }, { select: inventoryOf });
  const attributes = Object.entries(sku.attributes).map(([name, value]) => `${name}: ${value}`);
  return (
    <section aria-labelledby={`${id}-title`} className="card">
      <h3 id={`${id}-title`}>{sku.code}</h3>
      <p>
        <span className="price">{format.money(sku.price)}</span> {attributes.join(", ")}
      </p>
      {children}
      {inventory.isPending && <p role="status">{t(m.loading)}</p>}
      {inventory.isError && <Problem error={inventory.error} />}
      {inventory.isSuccess && (
        <>
          <dl className="figures">
            {(
              [
                ["on-hand", m.onHand, inventory.data.quantity],
                ["reserved", m.reserved, inventory.data.reserved],
                ["available", m.available, inventory.data.available],
                ["version", m.version, inventory.data.version],
              ] as const
            ).map(([key, label, value]) => (
              <div key={key}>
                <dt>{t(label)}</dt>
                <dd data-testid={key}>{format.count(value)}</dd>
              </div>
            ))}
          </dl>
          <SetStock sku={sku} current={inventory.data} reload={inventory.refetch} />
          <AdjustStock sku={sku} />
        </>
      )}
    </section>
  );
}

interface SetStockProps {
  sku: Sku;
  current: Inventory;
  reload: () => Promise<{ data?: Inventory }>;
}

/**
 * A stock count: the quantity counted replaces the one on hand, quoting the version it was counted against. If
 * the stock changed meanwhile (a sale, another admin), the service refuses it (ABORTED) rather than overwrite
 * that change: the figures are read again and the admin decides.
 */
function SetStock({ sku, current, reload }: SetStockProps) {
  const { t } = useLanguage();
  const format = useFormat();
  const changed = useCatalogChanged();
  const id = useId();
  // The figures the count is made against; null while the form is closed.
  const [base, setBase] = useState<Inventory | null>(null);
  const [quantity, setQuantity] = useState("");
  const set = useMutation(InventoryService.method.updateInventory, {
    onSuccess: () => {
      setBase(null);
      return changed();
    },
    onError: async (error) => {
      if (ConnectError.from(error).code !== Code.Aborted) return;
      const { data } = await reload();
      if (data) setBase(data);
    },
  });
  const open = () => {
    set.reset();
    setBase(current);
    setQuantity(String(current.quantity));
  };
  const close = () => {
    set.reset();
    setBase(null);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (base) set.mutate({ skuId: sku.id, quantity: wholeNumber(quantity), version: base.version });
  };

  return (
    <>
      {base ? (
        <form onSubmit={submit} className="inline-form">
          <Field
            id={`${id}-quantity`}
            label={t(m.counted)}
            help={t(m.countedHelp, { version: format.count(base.version), quantity: format.count(base.quantity) })}
            type="number"
            required
            min={0}
            step={1}
            value={quantity}
            onChange={(e) => {
              setQuantity(e.target.value);
            }}
            // eslint-disable-next-line jsx-a11y/no-autofocus -- not on arrival: it follows the press on "Set stock", which this form replaced
            autoFocus
          />
          <SubmitButton pending={set.isPending} pendingText={t(m.saving)} target={sku.code}>
            {t(m.save)}
          </SubmitButton>
          <button type="button" className="secondary" onClick={close}>
            {t(m.cancel)}
          </button>
        </form>
      ) : (
        <button type="button" className="secondary" onClick={open}>
          {t(m.setStock)} <span className="visually-hidden">{sku.code}</span>
        </button>
      )}
      {set.isSuccess && <p role="status">{t(m.saved, { quantity: format.count(set.data.inventory!.quantity) })}</p>}
      {set.isError && (
        <Problem
          error={set.error}
          known={{
            [Code.Aborted]: m.conflict,
            [Code.FailedPrecondition]: m.belowReserved,
            [Code.InvalidArgument]: m.negative,
          }}
        />
      )}
    </>
  );
}

/** A delivery or a loss: the quantity on hand moves by a delta, whatever it is now, with the reason recorded. */
function AdjustStock({ sku }: { sku: Sku }) {
  const { t } = useLanguage();
  const format = useFormat();
  const changed = useCatalogChanged();
  const id = useId();
  const [delta, setDelta] = useState("");
  const [reason, setReason] = useState("");
  const adjust = useMutation(InventoryService.method.adjustInventory, {
    onSuccess: () => {
      setDelta("");
      setReason("");
      return changed();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    adjust.mutate({ skuId: sku.id, delta: wholeNumber(delta), reason: reason.trim() });
  };

  return (
    <>
      <form onSubmit={submit} className="inline-form">
        <Field
          id={`${id}-delta`}
          label={t(m.changeBy)}
          help={t(m.changeHelp)}
          type="number"
          required
          step={1}
          value={delta}
          onChange={(e) => {
            setDelta(e.target.value);
          }}
        />
        <Field
          id={`${id}-reason`}
          label={t(m.reason)}
          required
          maxLength={500}
          value={reason}
          onChange={(e) => {
            setReason(e.target.value);
          }}
        />
        <SubmitButton pending={adjust.isPending} pendingText={t(m.adjusting)} target={sku.code}>
          {t(m.adjust)}
        </SubmitButton>
      </form>
      {adjust.isSuccess && (
        <p role="status">{t(m.adjusted, { quantity: format.count(adjust.data.inventory!.quantity) })}</p>
      )}
      {adjust.isError && (
        <Problem
          error={adjust.error}
          known={{ [Code.FailedPrecondition]: m.belowReserved, [Code.InvalidArgument]: m.badAdjustment }}
        />
      )}
    </>
  );
}
