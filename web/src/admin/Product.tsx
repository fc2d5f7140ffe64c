import { Code } from "@connectrpc/connect";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { type FormEvent, useId, useState } from "react";
import { Link, useNavigate } from "react-router";

import { ProductService } from "../gen/product/v1/product_service_pb";
import { type Product, ProductStatus } from "../gen/product/v1/types_pb";
import { type Message, messages, useLanguage } from "../i18n";
import { useCategoryTree } from "../Shop";
import { Confirm, Field, Problem, SubmitButton } from "../ui";
import { categoryChoices, PRODUCT_STATUS } from "./catalog";
import { useCatalogChanged } from "./common";
import { Images } from "./Images";
import { Skus } from "./Skus";

const m = messages({
  newProduct: { en: "New product", ja: "新しい商品" },
  startsAsDraft: {
    en: "A new product is a draft, seen only by administrators until it is published.",
    ja: "新しい商品は下書きとして作成され、公開するまで管理者にしか表示されません。",
  },
  name: { en: "Name", ja: "商品名" },
  description: { en: "Description", ja: "説明" },
  category: { en: "Category", ja: "カテゴリー" },
  noCategory: { en: "No category", ja: "カテゴリーなし" },
  create: { en: "Create product", ja: "商品を作成" },
  creating: { en: "Creating…", ja: "作成しています…" },
  invalid: {
    en: "Check the name (1 to 200 characters) and the description (at most 10,000 characters).",
    ja: "商品名（1〜200文字）と説明（10,000文字以内）を確認してください。",
  },
  gone: { en: "This product or its category no longer exists.", ja: "この商品またはカテゴリーはもう存在しません。" },
  loading: { en: "Loading the product…", ja: "商品を読み込んでいます…" },
  product: { en: "Product", ja: "商品" },
  status: { en: "Status", ja: "状態" },
  draftAbout: { en: "Only administrators can see it.", ja: "管理者だけが閲覧できます。" },
  publishedAbout: { en: "On sale: listed in the shop.", ja: "販売中：ショップに掲載されています。" },
  hiddenAbout: {
    en: "Off sale: not listed, but its page still opens from past orders.",
    ja: "販売停止中：一覧には表示されませんが、過去の注文からページを開けます。",
  },
  publish: { en: "Publish", ja: "公開する" },
  publishing: { en: "Publishing…", ja: "公開しています…" },
  hide: { en: "Hide", ja: "非公開にする" },
  hiding: { en: "Hiding…", ja: "非公開にしています…" },
  needsSku: {
    en: "Add a SKU first: a product goes on sale through its SKUs.",
    ja: "先にSKUを追加してください。商品はSKU単位で販売されます。",
  },
  cannotPublish: {
    en: "It cannot go on sale now: it has no SKU, or it is on sale already. Its status above is now up to date.",
    ja: "現在は公開できません。SKUがないか、すでに公開中です。上の状態は最新のものです。",
  },
  cannotHide: {
    en: "It is not on sale, so it cannot be hidden. Its status above is now up to date.",
    ja: "公開中ではないため、非公開にできません。上の状態は最新のものです。",
  },
  seeInShop: { en: "See it in the shop", ja: "ショップで見る" },
  details: { en: "Details", ja: "詳細" },
  save: { en: "Save changes", ja: "変更を保存" },
  saving: { en: "Saving…", ja: "保存しています…" },
  saved: { en: "Saved.", ja: "保存しました。" },
  deleteTitle: { en: "Delete the product", ja: "商品の削除" },
  delete: { en: "Delete", ja: "削除" },
  deleteQuestion: {
    en: "Delete “{name}” and its SKUs? Shoppers will no longer find it.",
    ja: "「{name}」とそのSKUを削除しますか？ショップには表示されなくなります。",
  },
  deleteConfirm: { en: "Yes, delete it", ja: "はい、削除します" },
  deleting: { en: "Deleting…", ja: "削除しています…" },
  reserved: {
    en: "It cannot be deleted while checkouts in progress hold some of its stock. Try again in a few minutes.",
    ja: "手続き中の注文が在庫を確保しているため削除できません。数分後にお試しください。",
  },
});

const ABOUT: Partial<Record<ProductStatus, Message>> = {
  [ProductStatus.DRAFT]: m.draftAbout,
  [ProductStatus.PUBLISHED]: m.publishedAbout,
  [ProductStatus.HIDDEN]: m.hiddenAbout,
};

const PRODUCT_PROBLEMS = { [Code.InvalidArgument]: m.invalid, [Code.NotFound]: m.gone };

interface Draft {
  name: string;
  description: string;
  /** "" for none. */
  categoryId: string;
}

function draftOf(product: Product): Draft {
  return { name: product.name, description: product.description, categoryId: product.categoryId ?? "" };
}

/** A product's own fields, for creating and for editing. */
function ProductFields({ draft, onChange }: { draft: Draft; onChange: (draft: Draft) => void }) {
  const { t } = useLanguage();
  const categories = useCategoryTree();
  const id = useId();
  return (
    <>
      <Field
        id={`${id}-name`}
        label={t(m.name)}
        required
        maxLength={200}
        value={draft.name}
        onChange={(e) => {
          onChange({ ...draft, name: e.target.value });
        }}
      />
      <Field
        id={`${id}-description`}
        label={t(m.description)}
        control={(wiring) => (
          <textarea
            {...wiring}
            rows={4}
            maxLength={10_000}
            value={draft.description}
            onChange={(e) => {
              onChange({ ...draft, description: e.target.value });
            }}
          />
        )}
      />
      <Field
        id={`${id}-category`}
        label={t(m.category)}
        control={(wiring) => (
          <select
            {...wiring}
            value={draft.categoryId}
            onChange={(e) => {
              onChange({ ...draft, categoryId: e.target.value });
            }}
          >
            <option value="">{t(m.noCategory)}</option>
            {categoryChoices(categories.data ?? []).map(({ id: value, label }) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        )}
      />
      {categories.isError && <Problem error={categories.error} />}
    </>
  );
}

export function NewProductPage() {
  const { t } = useLanguage();
  const navigate = useNavigate();
  const changed = useCatalogChanged();
  const [draft, setDraft] = useState<Draft>({ name: "", description: "", categoryId: "" });
  const create = useMutation(ProductService.method.createProduct, {
    onSuccess: ({ product }) => {
      void changed();
      void navigate(`/admin/products/${product!.id}`);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({
      name: draft.name.trim(),
      description: draft.description.trim(),
      categoryId: draft.categoryId || undefined,
    });
  };
  return (
    <section aria-labelledby="new-product-title">
      <h1 id="new-product-title">{t(m.newProduct)}</h1>
      <p className="help">{t(m.startsAsDraft)}</p>
      <form onSubmit={submit} className="stacked">
        <ProductFields draft={draft} onChange={setDraft} />
        <SubmitButton pending={create.isPending} pendingText={t(m.creating)}>
          {t(m.create)}
        </SubmitButton>
      </form>
      {create.isError && <Problem error={create.error} known={PRODUCT_PROBLEMS} />}
    </section>
  );
}

/** One product, whatever its status: its status, details, SKUs with their stock, images, and deleting it. */
export function ProductPage({ id }: { id: string }) {
  const { t } = useLanguage();
  const product = useQuery(ProductService.method.getProduct, { id });
  if (product.isPending) return <p role="status">{t(m.loading)}</p>;
  if (product.isError)
    return (
      <section aria-labelledby="product-title">
        <h1 id="product-title">{t(m.product)}</h1>
        <Problem error={product.error} />
      </section>
    );
  const item = product.data.product!;
  return (
    <article aria-labelledby="product-title">
      <h1 id="product-title">{item.name}</h1>
      <Status product={item} />
      <Details product={item} />
      <Skus product={item} />
      <Images product={item} />
      <Delete product={item} />
    </article>
  );
}

function Status({ product }: { product: Product }) {
  const { t } = useLanguage();
  const changed = useCatalogChanged();
  // Refused or not, the product is read again: another admin may have changed its status or SKUs meanwhile.
  const publish = useMutation(ProductService.method.publishProduct, { onSettled: changed });
  const hide = useMutation(ProductService.method.hideProduct, { onSettled: changed });
  const onSale = product.status === ProductStatus.PUBLISHED;
  const noSku = product.skus.length === 0;
  const about = ABOUT[product.status];
  return (
    <section aria-labelledby="status-title">
      <h2 id="status-title">{t(m.status)}</h2>
      <p>
        <strong data-testid="product-status">{t(PRODUCT_STATUS[product.status])}</strong>
        {about && `: ${t(about)}`}
      </p>
      {onSale ? (
        <SubmitButton
          type="button"
          pending={hide.isPending}
          pendingText={t(m.hiding)}
          onClick={() => {
            hide.mutate({ id: product.id });
          }}
        >
          {t(m.hide)}
        </SubmitButton>
      ) : (
        <SubmitButton
          type="button"
          pending={publish.isPending}
          pendingText={t(m.publishing)}
          disabled={noSku}
          onClick={() => {
            publish.mutate({ id: product.id });
          }}
        >
          {t(m.publish)}
        </SubmitButton>
      )}{" "}
      {product.status !== ProductStatus.DRAFT && <Link to={`/products/${product.id}`}>{t(m.seeInShop)}</Link>}
      {!onSale && noSku && <p className="help">{t(m.needsSku)}</p>}
      {publish.isError && <Problem error={publish.error} known={{ [Code.FailedPrecondition]: m.cannotPublish }} />}
      {hide.isError && <Problem error={hide.error} known={{ [Code.FailedPrecondition]: m.cannotHide }} />}
    </section>
  );
}

function Details({ product }: { product: Product }) {
  const { t } = useLanguage();
  const changed = useCatalogChanged();
  // What the form started from, and what it holds now: only the fields changed here are sent, so another
  // admin's change to another field, read meanwhile, is neither undone nor lost.
  const [start, setStart] = useState(() => draftOf(product));
  const [draft, setDraft] = useState(start);
  const update = useMutation(ProductService.method.updateProduct, {
    onSuccess: (answer) => {
      if (answer.product) setStart(draftOf(answer.product));
      return changed();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const edited = <K extends keyof Draft>(field: K) => (draft[field] !== start[field] ? draft[field] : undefined);
    update.mutate({
      id: product.id,
      name: edited("name")?.trim(),
      description: edited("description")?.trim(),
      categoryId: edited("categoryId"),
    });
  };
  return (
    <section aria-labelledby="details-title">
      <h2 id="details-title">{t(m.details)}</h2>
      <form onSubmit={submit} className="stacked">
        <ProductFields
          draft={draft}
          onChange={(next) => {
            update.reset();
            setDraft(next);
          }}
        />
        <SubmitButton pending={update.isPending} pendingText={t(m.saving)}>
          {t(m.save)}
        </SubmitButton>
        {update.isSuccess && <p role="status">{t(m.saved)}</p>}
      </form>
      {update.isError && <Problem error={update.error} known={PRODUCT_PROBLEMS} />}
    </section>
  );
}

function Delete({ product }: { product: Product }) {
  const { t } = useLanguage();
  const navigate = useNavigate();
  const changed = useCatalogChanged();
  const remove = useMutation(ProductService.method.deleteProduct, {
    onSuccess: () => {
      void navigate("/admin/products");
      void changed();
    },
  });
  return (
    <section aria-labelledby="delete-title">
      <h2 id="delete-title">{t(m.deleteTitle)}</h2>
      <Confirm
        action={t(m.delete)}
        target={product.name}
        question={t(m.deleteQuestion, { name: product.name })}
        confirm={t(m.deleteConfirm)}
        pendingText={t(m.deleting)}
        pending={remove.isPending}
        onConfirm={() => {
          remove.mutate({ id: product.id });
        }}
      />
      {remove.isError && <Problem error={remove.error} known={{ [Code.FailedPrecondition]: m.reserved }} />}
    </section>
  );
}
