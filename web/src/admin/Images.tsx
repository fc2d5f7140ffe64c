import { Code } from "@connectrpc/connect";
import { useMutation } from "@connectrpc/connect-query";
import { type FormEvent, useState } from "react";

import { ProductService } from "../gen/product/v1/product_service_pb";
import type { Product } from "../gen/product/v1/types_pb";
import { messages, useLanguage } from "../i18n";
import { fallBackToPlaceholder } from "../placeholder";
import { Field, Problem, SubmitButton } from "../ui";
import { useCatalogChanged } from "./common";

const m = messages({
  title: { en: "Images", ja: "画像" },
  none: {
    en: "No image yet: the shop shows a placeholder.",
    ja: "画像はまだありません。ショップには代わりの画像が表示されます。",
  },
  remove: { en: "Remove", ja: "削除" },
  removing: { en: "Removing…", ja: "削除しています…" },
  image: { en: "image {number}: {alt}", ja: "画像{number}：{alt}" },
  addTitle: { en: "Add an image", ja: "画像を追加" },
  url: { en: "Image URL", ja: "画像のURL" },
  urlHelp: {
    en: "An https address of a picture hosted elsewhere: the shop stores links, not files.",
    ja: "ほかの場所にある画像のhttpsアドレス。ショップはファイルではなくリンクを保存します。",
  },
  alt: { en: "Alt text", ja: "代替テキスト" },
  altHelp: {
    en: "What the picture shows, for people who cannot see it (at most 500 characters).",
    ja: "画像を見られない人のための、画像の内容の説明（500文字以内）。",
  },
  add: { en: "Add image", ja: "画像を追加" },
  adding: { en: "Adding…", ja: "追加しています…" },
  invalid: {
    en: "The URL must be an absolute https address, and the alt text at most 500 characters.",
    ja: "URLはhttpsで始まる完全なアドレス、代替テキストは500文字以内にしてください。",
  },
  full: {
    en: "A product has at most 20 images: remove one first.",
    ja: "画像は1商品につき20枚までです。先に1枚削除してください。",
  },
});

/** A product's pictures, in order: each can be removed, and more added by URL. */
export function Images({ product }: { product: Product }) {
  const { t } = useLanguage();
  const changed = useCatalogChanged();
  const [url, setUrl] = useState("");
  const [alt, setAlt] = useState("");
  const add = useMutation(ProductService.method.addProductImage, {
    onSuccess: () => {
      setUrl("");
      setAlt("");
      return changed();
    },
  });
  const remove = useMutation(ProductService.method.removeProductImage, { onSuccess: changed });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate({ productId: product.id, url: url.trim(), altText: alt.trim() });
  };

  return (
    <section aria-labelledby="images-title">
      <h2 id="images-title">{t(m.title)}</h2>
      {product.images.length === 0 ? (
        <p>{t(m.none)}</p>
      ) : (
        <ul className="images">
          {product.images.map((image, index) => (
            <li key={image.id}>
              <img
                src={image.url}
                alt={image.altText}
                width={160}
                height={160}
                onError={fallBackToPlaceholder(product.name)}
              />
              <p className="url">{image.url}</p>
              {/* One removal at a time: every button waits for it, the one it came from says so. */}
              <SubmitButton
                type="button"
                pending={remove.isPending}
                pendingText={remove.variables?.imageId === image.id ? t(m.removing) : t(m.remove)}
                target={t(m.image, { number: index + 1, alt: image.altText })}
                onClick={() => {
                  remove.mutate({ productId: product.id, imageId: image.id });
                }}
              >
                {t(m.remove)}
              </SubmitButton>
            </li>
          ))}
        </ul>
      )}
      {remove.isError && <Problem error={remove.error} />}
      <form onSubmit={submit} className="stacked">
        <h3>{t(m.addTitle)}</h3>
        <Field
          id="image-url"
          label={t(m.url)}
          help={t(m.urlHelp)}
          type="url"
          required
          pattern="https://.+"
          maxLength={2048}
          value={url}
          onChange={(e) => {
            setUrl(e.target.value);
          }}
        />
        <Field
          id="image-alt"
          label={t(m.alt)}
          help={t(m.altHelp)}
          required
          maxLength={500}
          value={alt}
          onChange={(e) => {
            setAlt(e.target.value);
          }}
        />
        <SubmitButton pending={add.isPending} pendingText={t(m.adding)}>
          {t(m.add)}
        </SubmitButton>
      </form>
      {add.isError && (
        <Problem error={add.error} known={{ [Code.InvalidArgument]: m.invalid, [Code.FailedPrecondition]: m.full }} />
      )}
    </section>
  );
}
