import { Code, type ConnectError } from "@connectrpc/connect";
import { useMutation } from "@connectrpc/connect-query";
import { type FormEvent, useState } from "react";

import { ProductService } from "../gen/product/v1/product_service_pb";
import { PictureRefusal, PictureRefusedDetailSchema, type Product } from "../gen/product/v1/types_pb";
import { type Message, messages, useLanguage } from "../i18n";
import { useBinaryTransport } from "../api";
import { ProductPicture } from "../picture";
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
  stored: { en: "Stored, {width} × {height} px", ja: "保存済み（{width} × {height} px）" },
  uploadTitle: { en: "Upload a picture", ja: "画像をアップロード" },
  file: { en: "Picture file", ja: "画像ファイル" },
  fileHelp: {
    en: "JPEG, PNG or WebP, at most 10 MB and 40 megapixels. The shop keeps resized WebP copies, turned upright, without the camera's data (such as where it was taken).",
    ja: "JPEG・PNG・WebP、10MB・4000万画素まで。ショップは向きを直して縮小したWebPの複製だけを保存し、撮影場所などのカメラの情報は残しません。",
  },
  fileTooLarge: {
    en: "The file is over 10 MB: choose a smaller one.",
    ja: "ファイルが10MBを超えています。小さいものを選んでください。",
  },
  upload: { en: "Upload picture", ja: "画像をアップロード" },
  uploading: { en: "Uploading…", ja: "アップロードしています…" },
  refusedEmpty: { en: "This file is empty: choose a picture.", ja: "このファイルは空です。画像を選んでください。" },
  refusedType: {
    en: "This picture cannot be used: only JPEG, PNG and WebP pictures are taken.",
    ja: "この画像は使えません。JPEG・PNG・WebPの画像だけを受け付けます。",
  },
  refusedPixels: {
    en: "This picture cannot be used: it is {width} × {height} px, and a picture is at most 12,000 px a side and 40 megapixels.",
    ja: "この画像は使えません。{width} × {height} pxですが、画像は1辺12,000px・4000万画素までです。",
  },
  refusedUndecodable: {
    en: "This picture cannot be used: the file is damaged or cut short, or too large to open. Save it again as JPEG, PNG or WebP.",
    ja: "この画像は使えません。ファイルが壊れているか途中で切れているか、大きすぎて開けません。JPEG・PNG・WebPで保存し直してください。",
  },
  refusedOther: {
    en: "This picture cannot be used: choose a JPEG, PNG or WebP picture of at most 10 MB and 40 megapixels.",
    ja: "この画像は使えません。10MB・4000万画素までのJPEG・PNG・WebPの画像を選んでください。",
  },
  checkUpload: {
    en: "Please check the alt text: at most 500 characters, without tabs or line breaks.",
    ja: "代替テキストを確認してください。500文字以内で、タブや改行は使えません。",
  },
  noStore: {
    en: "This platform stores no pictures (MEDIA_STORE is not set); link to one instead, or remove one if the product has 20.",
    ja: "このプラットフォームは画像を保存できません（MEDIA_STOREが未設定）。リンクで追加するか、20枚ある場合は1枚削除してください。",
  },
  addTitle: { en: "Or link to a picture elsewhere", ja: "またはほかの場所の画像にリンク" },
  url: { en: "Image URL", ja: "画像のURL" },
  urlHelp: {
    en: "An https address of a picture hosted elsewhere, kept as a link.",
    ja: "ほかの場所にある画像のhttpsアドレス。リンクとして保存します。",
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

/** The most bytes a picture may have (the product service's limit, checked here first to save the upload). */
const MAX_PICTURE_BYTES = 10 * 1024 * 1024;

/** A product's pictures, in order: each can be removed, and more uploaded or added by URL. */
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
              <ProductPicture image={image} name={product.name} sizes="10rem" width={160} height={160} />
              <p className="url">
                {image.variants.length > 0
                  ? t(m.stored, { width: image.variants.at(-1)!.width, height: image.variants.at(-1)!.height })
                  : image.url}
              </p>
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
      <Upload product={product} />
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

/** The upload form: a picture file and its alt text, sent as the bytes of one UploadProductImage call. */
function Upload({ product }: { product: Product }) {
  const { t } = useLanguage();
  const changed = useCatalogChanged();
  const [file, setFile] = useState<File | null>(null);
  const [alt, setAlt] = useState("");
  const [tooLarge, setTooLarge] = useState(false);
  const [input, setInput] = useState(0);
  const upload = useMutation(ProductService.method.uploadProductImage, {
    // The bytes go as they are (binary protobuf), not as base64 in JSON.
    transport: useBinaryTransport(),
    onSuccess: () => {
      setFile(null);
      setAlt("");
      // A new file input: the browser keeps no name of the file just sent.
      setInput((n) => n + 1);
      return changed();
    },
  });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    if (file.size > MAX_PICTURE_BYTES) {
      setTooLarge(true);
      return;
    }
    const data = new Uint8Array(await file.arrayBuffer());
    upload.mutate({ productId: product.id, data, altText: alt.trim() });
  };
  return (
    <form
      onSubmit={(event) => {
        void submit(event);
      }}
      className="stacked"
    >
      <h3>{t(m.uploadTitle)}</h3>
      <Field
        key={input}
        id="image-file"
        label={t(m.file)}
        help={t(m.fileHelp)}
        type="file"
        accept="image/jpeg,image/png,image/webp"
        required
        onChange={(e) => {
          setTooLarge(false);
          upload.reset();
          setFile(e.target.files?.[0] ?? null);
        }}
      />
      <Field
        id="image-file-alt"
        label={t(m.alt)}
        help={t(m.altHelp)}
        required
        maxLength={500}
        value={alt}
        onChange={(e) => {
          setAlt(e.target.value);
        }}
      />
      <SubmitButton pending={upload.isPending} pendingText={t(m.uploading)}>
        {t(m.upload)}
      </SubmitButton>
      {tooLarge && (
        <p role="alert" className="problem">
          {t(m.fileTooLarge)}
        </p>
      )}
      {upload.isError && <UploadProblem error={upload.error} />}
    </form>
  );
}

/**
 * Why an upload was refused, in the shop owner's language: a refused picture says why in its
 * `PictureRefusedDetail` (never read from the server's English message); any other refusal by its code.
 */
function UploadProblem({ error }: { error: ConnectError }) {
  const { t, tag } = useLanguage();
  const [refused] = error.findDetails(PictureRefusedDetailSchema);
  if (!refused) {
    return (
      <Problem
        error={error}
        known={{
          [Code.InvalidArgument]: m.checkUpload,
          [Code.FailedPrecondition]: m.noStore,
          [Code.ResourceExhausted]: m.fileTooLarge,
        }}
      />
    );
  }
  // A reason newer than this page is told in general words.
  const why: Partial<Record<PictureRefusal, Message>> = {
    [PictureRefusal.EMPTY]: m.refusedEmpty,
    [PictureRefusal.TOO_LARGE]: m.fileTooLarge,
    [PictureRefusal.UNSUPPORTED_TYPE]: m.refusedType,
    [PictureRefusal.TOO_MANY_PIXELS]: m.refusedPixels,
    [PictureRefusal.UNDECODABLE]: m.refusedUndecodable,
  };
  return (
    <p role="alert" className="problem">
      {t(why[refused.reason] ?? m.refusedOther, {
        width: refused.width.toLocaleString(tag),
        height: refused.height.toLocaleString(tag),
      })}
    </p>
  );
}
