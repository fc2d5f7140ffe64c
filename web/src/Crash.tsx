import { Component, type ReactNode } from "react";

import { messages, useLanguage } from "./i18n";

const m = messages({
  title: { en: "Something went wrong", ja: "問題が発生しました" },
  explain: {
    en: "This page stopped working. Reloading it usually puts it right (you may need to sign in again).",
    ja: "このページが正しく動作しなくなりました。再読み込みすると、たいていは元に戻ります（もう一度ログインが必要な場合があります）。",
  },
  reload: { en: "Reload the page", ja: "ページを再読み込み" },
});

/** What a page that failed to render shows instead: what happened, in words, and a way out. */
export function Crash() {
  const { t } = useLanguage();
  return (
    <section aria-labelledby="crash-title">
      <h1 id="crash-title">{t(m.title)}</h1>
      <p role="alert" className="problem">
        {t(m.explain)}
      </p>
      <button
        type="button"
        onClick={() => {
          window.location.reload();
        }}
      >
        {t(m.reload)}
      </button>
    </section>
  );
}

/**
 * The app's last line of defence: a failure while rendering anything below it shows `<Crash>` instead of a
 * blank page. A page that fails under the router shows it in place of the page, with the header still there
 * (the routes' `errorElement` in App.tsx); this catches what fails outside them. React reports the error itself
 * (console.error).
 */
export class ErrorBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  state = { failed: false };

  static getDerivedStateFromError() {
    return { failed: true };
  }

  render() {
    return this.state.failed ? <Crash /> : this.props.children;
  }
}
