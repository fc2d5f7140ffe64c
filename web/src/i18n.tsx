import { createContext, type ReactNode, useContext, useEffect, useState } from "react";

/** The languages the app speaks: English and Japanese (the Go project's audience). */
export type Locale = "en" | "ja";
export const LOCALES: Record<Locale, string> = { en: "English", ja: "日本語" };

/**
 * One message in every language, side by side, so a missing translation is a type error rather than a blank.
 * `{name}` placeholders are filled by `t(message, { name })`.
 */
export type Message = Record<Locale, string>;

/** A module's messages: the keys are kept for autocompletion, and every entry must have both languages. */
export function messages<const M extends Record<string, Message>>(all: M): M {
  return all;
}

/** The BCP 47 tag `Intl` formats with for each language. */
const TAGS: Record<Locale, string> = { en: "en-US", ja: "ja-JP" };
const STORAGE_KEY = "ec-locale";

/** The shopper's earlier choice (only the language is kept, nothing sensitive), else the browser's language. */
function initialLocale(): Locale {
  const saved = window.localStorage.getItem(STORAGE_KEY);
  if (saved === "en" || saved === "ja") return saved;
  return navigator.languages.some((language) => language.toLowerCase().startsWith("ja")) ? "ja" : "en";
}

export type Translate = (message: Message, values?: Record<string, string | number | bigint>) => string;

interface Language {
  locale: Locale;
  /** The tag for `Intl.NumberFormat` and `Intl.DateTimeFormat`. */
  tag: string;
  setLocale: (locale: Locale) => void;
  t: Translate;
}

function language(locale: Locale, setLocale: (locale: Locale) => void): Language {
  return {
    locale,
    tag: TAGS[locale],
    setLocale,
    t: (message, values = {}) =>
      message[locale].replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole)),
  };
}

const LanguageContext = createContext<Language>(language("en", () => {}));

export function LanguageProvider({ children }: { children: ReactNode }) {
  const [locale, setLocale] = useState<Locale>(initialLocale);
  useEffect(() => {
    document.documentElement.lang = locale;
    window.localStorage.setItem(STORAGE_KEY, locale);
  }, [locale]);
  return <LanguageContext.Provider value={language(locale, setLocale)}>{children}</LanguageContext.Provider>;
}

/** The current language: `t` for messages, `tag` for `Intl`. */
export function useLanguage(): Language {
  return useContext(LanguageContext);
}
