import { Code } from "@connectrpc/connect";
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";

import type { Clients } from "../api";
import type { Product } from "../gen/product/v1/types_pb";
import { messages, useLanguage } from "../i18n";
import { fallBackToPlaceholder } from "../placeholder";
import { Problem } from "../ui";
import { useCatalogChanged } from "./common";

const m = messages({
  title: { en: "Images", ja: "画像" },
  none: { en: "No image yet: the shop shows a placeholder.", ja: "画像はまだありません。ショップには代わりの画像が表示されます。" },
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
  full: { en: "A product has at most 20 images: remove one first.", ja: "画像は1商品につき20枚までです。先に1枚削除してください。" },
});

/** A product's pictures, in order: each can be removed, and more added by URL. */
export function Images({ api, product }: { api: Clients; product: Product }) {
  const { t } = useLanguage();
  const changed = useCatalogChanged();
  const [url, setUrl] = useState("");
  const [alt, setAlt] = useState("");
  const add = useMutation({
    mutationFn: () => api.products.addProductImage({ productId: product.id, url: url.trim(), altText: alt.trim() }),
    onSuccess: () => {
      setUrl("");
      setAlt("");
      return changed();
    },
  });
  const remove = useMutation({
    mutationFn: (imageId: string) => api.products.removeProductImage({ productId: product.id, imageId }),
    onSuccess: changed,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
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
            <button type="button" onClick={() => remove.mutate(image.id)} disabled={remove.isPending}>
              {remove.isPending && remove.variables === image.id ? t(m.removing) : t(m.remove)}{" "}
              <span className="visually-hidden">{t(m.image, { number: index + 1, alt: image.altText })}</span>
            </button>
          </li>
        ))}
        </ul>
      )}
      {remove.isError && <Problem error={remove.error} />}
      <form onSubmit={submit} className="stacked">
        <h3>{t(m.addTitle)}</h3>
        <p>
          <label htmlFor="image-url">{t(m.url)}</label>
          <input
            id="image-url"
            type="url"
            required
            pattern="https://.+"
            maxLength={2048}
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            aria-describedby="image-url-help"
          />
        </p>
        <p id="image-url-help" className="help">
          {t(m.urlHelp)}
        </p>
        <p>
          <label htmlFor="image-alt">{t(m.alt)}</label>
          <input
            id="image-alt"
            required
            maxLength={500}
            value={alt}
            onChange={(e) => setAlt(e.target.value)}
            aria-describedby="image-alt-help"
          />
        </p>
        <p id="image-alt-help" className="help">
          {t(m.altHelp)}
        </p>
        <button type="submit" disabled={add.isPending}>
          {add.isPending ? t(m.adding) : t(m.add)}
        </button>
      </form>
      {add.isError && (
        <Problem error={add.error} known={{ [Code.InvalidArgument]: m.invalid, [Code.FailedPrecondition]: m.full }} />
      )}
    </section>
  );
}
