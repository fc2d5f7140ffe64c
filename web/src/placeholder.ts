/** A picture for a product whose image cannot load: its initial on a tint of its own, made here (works offline). */
export function placeholder(name: string): string {
  const hue = [...name].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 360;
  const initial = (name.trim()[0] ?? "?").toUpperCase();
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">` +
    `<rect width="100" height="100" fill="hsl(${hue} 45% 85%)"/>` +
    `<text x="50" y="62" font-family="sans-serif" font-size="40" text-anchor="middle" fill="hsl(${hue} 45% 25%)">` +
    `${initial.replace(/[<&>]/g, "")}</text></svg>`;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

/**
 * An `<img onError>` that shows the placeholder for `name` instead of a broken image, once: its `srcset` goes
 * too (a browser picks from `srcset` whatever `src` says, so the broken copy would be fetched again).
 */
export function fallBackToPlaceholder(name: string) {
  return (event: { currentTarget: HTMLImageElement }) => {
    const img = event.currentTarget;
    if (img.dataset.placeholder) return;
    img.dataset.placeholder = "shown";
    img.removeAttribute("srcset");
    img.removeAttribute("sizes");
    img.src = placeholder(name);
  };
}
