import { createContext, type ReactNode, useContext } from "react";

import type { ProductImage } from "./gen/product/v1/types_pb";
import { fallBackToPlaceholder, placeholder } from "./placeholder";

/**
 * The base URL an uploaded picture's path is resolved against: the BFF, which serves `/media/...` (a picture's
 * URL is absolute when the platform has a CDN in front of its pictures, and then the base changes nothing).
 */
const MediaBase = createContext<string>(window.location.origin);

export function MediaProvider({ base, children }: { base: string; children: ReactNode }) {
  return <MediaBase.Provider value={base}>{children}</MediaBase.Provider>;
}

/** `url` resolved against the BFF. */
export function useMediaUrl() {
  const base = useContext(MediaBase);
  return (url: string) => new URL(url, base).href;
}

interface PictureProps {
  image: ProductImage | undefined;
  /** The product's name: the placeholder's initial, and the alt text when the image has none. */
  name: string;
  /** How wide the picture is shown, for the browser to pick a copy (the `sizes` attribute). */
  sizes: string;
  /** The box the picture is laid out in before it loads (its aspect ratio). */
  width: number;
  height: number;
  /** An empty alt for a picture beside a link or heading that names the product already. */
  decorative?: boolean;
  eager?: boolean;
}

/**
 * A product's picture: an uploaded one as its WebP copies in a `srcset`, so a phone loads the 320 px copy and a
 * wide screen a larger one; a linked one as it is; none, or one that fails to load, as the placeholder.
 */
export function ProductPicture({ image, name, sizes, width, height, decorative, eager }: PictureProps) {
  const resolve = useMediaUrl();
  const alt = decorative ? "" : image?.altText || name;
  const common = {
    width,
    height,
    loading: eager ? ("eager" as const) : ("lazy" as const),
    decoding: "async" as const,
    onError: fallBackToPlaceholder(name),
  };
  if (!image) return <img src={placeholder(name)} alt={alt} {...common} />;
  const srcSet = image.variants.map((variant) => `${resolve(variant.url)} ${variant.width}w`).join(", ");
  return (
    <img
      src={resolve(image.url)}
      srcSet={srcSet || undefined}
      sizes={srcSet ? sizes : undefined}
      alt={alt}
      {...common}
    />
  );
}
