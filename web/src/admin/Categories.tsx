import { Code } from "@connectrpc/connect";
import { useMutation } from "@connectrpc/connect-query";
import { type FormEvent, useId, useState } from "react";

import { ProductService } from "../gen/product/v1/product_service_pb";
import type { Category } from "../gen/product/v1/types_pb";
import { messages, useLanguage } from "../i18n";
import { useCategoryTree } from "../Shop";
import { Confirm, Field, Problem, SubmitButton } from "../ui";
import { categoryChoices } from "./catalog";
import { useCatalogChanged } from "./common";

const m = messages({
  title: { en: "Categories", ja: "カテゴリー" },
  tree: { en: "All categories", ja: "すべてのカテゴリー" },
  loading: { en: "Loading the categories…", ja: "カテゴリーを読み込んでいます…" },
  none: { en: "No category yet.", ja: "カテゴリーはまだありません。" },
  rename: { en: "Rename", ja: "名前を変更" },
  newName: { en: "New name for {name}", ja: "「{name}」の新しい名前" },
  save: { en: "Save", ja: "保存" },
  saving: { en: "Saving…", ja: "保存しています…" },
  cancel: { en: "Cancel", ja: "キャンセル" },
  delete: { en: "Delete", ja: "削除" },
  deleteQuestion: { en: "Delete the category “{name}”?", ja: "カテゴリー「{name}」を削除しますか？" },
  deleteConfirm: { en: "Yes, delete it", ja: "はい、削除します" },
  deleting: { en: "Deleting…", ja: "削除しています…" },
  notEmpty: {
    en: "Only an empty category can be deleted: move or delete its subcategories and products first.",
    ja: "削除できるのは空のカテゴリーだけです。先にサブカテゴリーと商品を移動または削除してください。",
  },
  newCategory: { en: "New category", ja: "新しいカテゴリー" },
  name: { en: "Name", ja: "名前" },
  slug: { en: "Slug (optional)", ja: "スラッグ（任意）" },
  slugHelp: {
    en: "Its part of web addresses: lower-case letters, digits and dashes. Made from the name when left empty; a name without Latin letters or digits needs one.",
    ja: "URLに使われる部分：小文字の英字、数字、ハイフン。空欄なら名前から作られます。英数字を含まない名前の場合は入力が必要です。",
  },
  parent: { en: "Parent", ja: "親カテゴリー" },
  root: { en: "None (top level)", ja: "なし（最上位）" },
  create: { en: "Create category", ja: "カテゴリーを作成" },
  creating: { en: "Creating…", ja: "作成しています…" },
  created: { en: "Category “{name}” created.", ja: "カテゴリー「{name}」を作成しました。" },
  invalid: {
    en: "Check the name (1 to 100 characters) and the slug (lower-case letters, digits and dashes); a name without Latin letters or digits needs a slug.",
    ja: "名前（1〜100文字）とスラッグ（小文字の英字、数字、ハイフン）を確認してください。英数字を含まない名前にはスラッグが必要です。",
  },
  taken: {
    en: "A category with this slug is already there: choose another name or slug.",
    ja: "同じスラッグのカテゴリーがすでにあります。別の名前かスラッグにしてください。",
  },
  gone: { en: "That category no longer exists.", ja: "そのカテゴリーはもう存在しません。" },
});

/** The category tree, with renaming and deleting in place, and a form for a new category. */
export function CategoriesPage() {
  const { t } = useLanguage();
  const tree = useCategoryTree();
  return (
    <section aria-labelledby="categories-title">
      <h1 id="categories-title">{t(m.title)}</h1>
      <section aria-labelledby="tree-title">
        <h2 id="tree-title">{t(m.tree)}</h2>
        {tree.isPending && <p role="status">{t(m.loading)}</p>}
        {tree.isError && <Problem error={tree.error} />}
        {tree.isSuccess && tree.data.length === 0 && <p>{t(m.none)}</p>}
        {tree.isSuccess && tree.data.length > 0 && (
          <ul className="tree">
            {tree.data.map((category) => (
              <Node key={category.id} category={category} />
            ))}
          </ul>
        )}
      </section>
      <NewCategory tree={tree.data ?? []} />
    </section>
  );
}

function Node({ category }: { category: Category }) {
  const { t } = useLanguage();
  const changed = useCatalogChanged();
  const id = useId();
  const [name, setName] = useState<string | null>(null); // the new name while renaming
  const rename = useMutation(ProductService.method.updateCategory, {
    onSuccess: async () => {
      await changed();
      setName(null);
    },
  });
  const remove = useMutation(ProductService.method.deleteCategory, { onSuccess: changed });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (name !== null) rename.mutate({ id: category.id, name: name.trim() });
  };

  return (
    <li>
      {name === null ? (
        <div className="node">
          <span className="name">{category.name}</span> <code>{category.slug}</code>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              rename.reset();
              setName(category.name);
            }}
          >
            {t(m.rename)} <span className="visually-hidden">{category.name}</span>
          </button>
          <Confirm
            action={t(m.delete)}
            target={category.name}
            question={t(m.deleteQuestion, { name: category.name })}
            confirm={t(m.deleteConfirm)}
            pendingText={t(m.deleting)}
            pending={remove.isPending}
            onConfirm={() => {
              remove.mutate({ id: category.id });
            }}
          />
        </div>
      ) : (
        <form onSubmit={submit} className="inline-form">
          <Field
            id={`${id}-name`}
            label={t(m.newName, { name: category.name })}
            required
            maxLength={100}
            value={name}
            onChange={(e) => {
              setName(e.target.value);
            }}
            // eslint-disable-next-line jsx-a11y/no-autofocus -- not on arrival: it follows the press on "Rename", which this field replaced
            autoFocus
          />
          <SubmitButton pending={rename.isPending} pendingText={t(m.saving)}>
            {t(m.save)}
          </SubmitButton>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              rename.reset();
              setName(null);
            }}
          >
            {t(m.cancel)}
          </button>
        </form>
      )}
      {rename.isError && (
        <Problem error={rename.error} known={{ [Code.InvalidArgument]: m.invalid, [Code.NotFound]: m.gone }} />
      )}
      {remove.isError && (
        <Problem error={remove.error} known={{ [Code.FailedPrecondition]: m.notEmpty, [Code.NotFound]: m.gone }} />
      )}
      {category.children.length > 0 && (
        <ul>
          {category.children.map((child) => (
            <Node key={child.id} category={child} />
          ))}
        </ul>
      )}
    </li>
  );
}

function NewCategory({ tree }: { tree: Category[] }) {
  const { t } = useLanguage();
  const changed = useCatalogChanged();
  const empty = { name: "", slug: "", parentId: "" };
  const [form, setForm] = useState(empty);
  const create = useMutation(ProductService.method.createCategory, {
    onSuccess: () => {
      setForm(empty);
      return changed();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ name: form.name.trim(), slug: form.slug.trim(), parentId: form.parentId || undefined });
  };

  return (
    <section aria-labelledby="new-category-title">
      <h2 id="new-category-title">{t(m.newCategory)}</h2>
      <form onSubmit={submit} className="stacked">
        <Field
          id="category-name"
          label={t(m.name)}
          required
          maxLength={100}
          value={form.name}
          onChange={(e) => {
            setForm({ ...form, name: e.target.value });
          }}
        />
        <Field
          id="category-slug"
          label={t(m.slug)}
          help={t(m.slugHelp)}
          maxLength={100}
          pattern="[a-z0-9\-]+"
          value={form.slug}
          onChange={(e) => {
            setForm({ ...form, slug: e.target.value });
          }}
        />
        <Field
          id="category-parent"
          label={t(m.parent)}
          control={(wiring) => (
            <select
              {...wiring}
              value={form.parentId}
              onChange={(e) => {
                setForm({ ...form, parentId: e.target.value });
              }}
            >
              <option value="">{t(m.root)}</option>
              {categoryChoices(tree).map(({ id, label }) => (
                <option key={id} value={id}>
                  {label}
                </option>
              ))}
            </select>
          )}
        />
        <SubmitButton pending={create.isPending} pendingText={t(m.creating)}>
          {t(m.create)}
        </SubmitButton>
        {create.isSuccess && <p role="status">{t(m.created, { name: create.variables.name ?? "" })}</p>}
      </form>
      {create.isError && (
        <Problem
          error={create.error}
          known={{ [Code.InvalidArgument]: m.invalid, [Code.AlreadyExists]: m.taken, [Code.NotFound]: m.gone }}
        />
      )}
    </section>
  );
}
