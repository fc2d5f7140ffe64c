import { Code } from "@connectrpc/connect";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { type FormEvent, useEffect, useMemo, useRef, useState } from "react";

import { useAnswers } from "./api";
import { countryOptions } from "./countries";
import type { Address } from "./gen/order/v1/types_pb";
import { type SavedAddress, UserService } from "./gen/user/v1/user_service_pb";
import { messages, useLanguage } from "./i18n";
import { Confirm, Field, Problem, SubmitButton, useFormat } from "./ui";

const m = messages({
  recipientName: { en: "Full name", ja: "氏名" },
  line1: { en: "Address", ja: "住所" },
  line2: { en: "Apartment, suite (optional)", ja: "建物名・部屋番号（任意）" },
  city: { en: "City", ja: "市区町村" },
  region: { en: "Prefecture or state", ja: "都道府県・州" },
  postalCode: { en: "Postal code", ja: "郵便番号" },
  phone: { en: "Phone", ja: "電話番号" },
  country: { en: "Country", ja: "国" },
  addressBook: { en: "Address book", ja: "アドレス帳" },
  loading: { en: "Loading your addresses…", ja: "お届け先を読み込んでいます…" },
  none: {
    en: "No saved addresses yet. Save one here or at checkout, and checkout offers it next time.",
    ja: "保存したお届け先はまだありません。ここか購入手続きで保存すると、次回の購入手続きで選べます。",
  },
  isDefault: { en: "Default", ja: "既定" },
  edit: { en: "Edit", ja: "編集" },
  editing: { en: "Edit the address", ja: "お届け先の編集" },
  cancel: { en: "Cancel", ja: "キャンセル" },
  makeDefault: { en: "Make default", ja: "既定にする" },
  makingDefault: { en: "Saving…", ja: "保存しています…" },
  remove: { en: "Delete", ja: "削除" },
  removeQuestion: {
    en: "Delete this address from your address book?",
    ja: "このお届け先をアドレス帳から削除しますか？",
  },
  removeConfirm: { en: "Yes, delete it", ja: "はい、削除します" },
  removing: { en: "Deleting…", ja: "削除しています…" },
  add: { en: "Add an address", ja: "お届け先の追加" },
  asDefault: { en: "Make this my default address", ja: "既定のお届け先にする" },
  save: { en: "Save address", ja: "お届け先を保存" },
  saving: { en: "Saving…", ja: "保存しています…" },
  saved: { en: "Address saved.", ja: "お届け先を保存しました。" },
  removed: { en: "Address deleted.", ja: "お届け先を削除しました。" },
  invalid: {
    en: "Check the address: a name, an address, a city, a postal code and a country are needed, and a phone number may hold digits, spaces and + - ( ) . only.",
    ja: "お届け先をご確認ください。氏名・住所・市区町村・郵便番号・国が必要です。電話番号に使えるのは数字、空白、+ - ( ) . のみです。",
  },
  full: {
    en: "Your address book holds 20 addresses, the most it can: delete one to add another.",
    ja: "アドレス帳は上限の20件に達しています。追加するには1件削除してください。",
  },
});

/** Most addresses an account keeps (the user service's limit). */
export const MAX_ADDRESSES = 20;

/** An address as its form edits it: every field a string, the country an ISO 3166-1 code. */
export type AddressForm = Record<(typeof FIELDS)[number][0] | "countryCode", string>;

const FIELDS = [
  ["recipientName", "name"],
  ["line1", "address-line1"],
  ["line2", "address-line2"],
  ["city", "address-level2"],
  ["region", "address-level1"],
  ["postalCode", "postal-code"],
  ["phone", "tel"],
] as const;

/** An empty address form, in Japan until the shopper picks another country. */
export function blankAddress(): AddressForm {
  return {
    recipientName: "",
    line1: "",
    line2: "",
    city: "",
    region: "",
    postalCode: "",
    phone: "",
    countryCode: "JP",
  };
}

/** A saved address in its form. */
function formOf(address: Address | undefined): AddressForm {
  const form = blankAddress();
  if (!address) return form;
  for (const key of Object.keys(form) as (keyof AddressForm)[]) form[key] = address[key];
  return form;
}

/** An address's fields in a fixed order, trimmed as the server keeps them: the same address compares equal. */
export function addressFields(address: Address | AddressForm) {
  return [...FIELDS.map(([name]) => address[name]), address.countryCode].map((field) => field.trim());
}

/** What the address book's refusals mean to a shopper: an address it cannot ship to, or a full book. */
export const ADDRESS_ERRORS = { [Code.InvalidArgument]: m.invalid, [Code.FailedPrecondition]: m.full };

/** An address's lines as a label or a parcel shows them: recipient, street, town, country, phone. */
export function useAddressLines() {
  const format = useFormat();
  return (address: Address | AddressForm) =>
    [
      address.recipientName,
      address.line1,
      address.line2,
      [address.postalCode, address.city, address.region].filter(Boolean).join(" "),
      format.country(address.countryCode),
      address.phone,
    ].filter(Boolean);
}

interface AddressFieldsProps {
  /** Prefixes the fields' ids, so that two forms on a page never share one. */
  idPrefix: string;
  value: AddressForm;
  onChange: (value: AddressForm) => void;
}

/** The fields of a postal address, with the browser's autofill names and every ISO 3166 country. */
export function AddressFields({ idPrefix, value, onChange }: AddressFieldsProps) {
  const { t, tag } = useLanguage();
  const countries = useMemo(() => countryOptions(tag), [tag]);
  return (
    <>
      {FIELDS.map(([name, autocomplete]) => (
        <Field
          key={name}
          id={`${idPrefix}${name}`}
          label={t(m[name])}
          autoComplete={autocomplete}
          required={name !== "line2" && name !== "region" && name !== "phone"}
          maxLength={name === "phone" ? 32 : name === "postalCode" ? 20 : 200}
          value={value[name]}
          onChange={(e) => {
            onChange({ ...value, [name]: e.target.value });
          }}
        />
      ))}
      <Field
        id={`${idPrefix}countryCode`}
        label={t(m.country)}
        control={(wiring) => (
          <select
            {...wiring}
            autoComplete="country"
            value={value.countryCode}
            onChange={(e) => {
              onChange({ ...value, countryCode: e.target.value });
            }}
          >
            {countries.map(([code, name]) => (
              <option key={code} value={code}>
                {name}
              </option>
            ))}
          </select>
        )}
      />
    </>
  );
}

/** The signed-in shopper's saved addresses, the default first (checkout offers them too). */
export function useSavedAddresses(userId: string) {
  return useQuery(UserService.method.listAddresses, { userId }, { select: (answer) => answer.addresses });
}

/** The account page's address book: each saved address, to edit, make the default or delete, and a form to add one. */
export function AddressBook({ userId }: { userId: string }) {
  const { t } = useLanguage();
  const addresses = useSavedAddresses(userId);
  const [done, setDone] = useState<"saved" | "removed" | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const finished = (what: "saved" | "removed") => {
    setDone(what);
    // A deleted address takes its buttons with it: focus goes to the book rather than to the page.
    if (what === "removed") heading.current?.focus();
  };
  return (
    <section aria-labelledby="addresses-title" className="address-book">
      <h2 id="addresses-title" ref={heading} tabIndex={-1}>
        {t(m.addressBook)}
      </h2>
      {done && <p role="status">{t(m[done])}</p>}
      {addresses.isPending && <p role="status">{t(m.loading)}</p>}
      {addresses.isError && <Problem error={addresses.error} />}
      {addresses.data?.length === 0 && <p>{t(m.none)}</p>}
      {addresses.data && addresses.data.length > 0 && (
        <ul className="addresses">
          {addresses.data.map((saved) => (
            <li key={saved.id}>
              <Entry userId={userId} saved={saved} onDone={finished} />
            </li>
          ))}
        </ul>
      )}
      {addresses.data &&
        (addresses.data.length < MAX_ADDRESSES ? (
          <AddAddress userId={userId} onDone={() => finished("saved")} />
        ) : (
          <p>{t(m.full)}</p>
        ))}
    </section>
  );
}

interface EntryProps {
  userId: string;
  saved: SavedAddress;
  onDone: (what: "saved" | "removed") => void;
}

/** One saved address: its lines, and what can be done with it. */
function Entry({ userId, saved, onDone }: EntryProps) {
  const { t } = useLanguage();
  const answers = useAnswers();
  const lines = useAddressLines();
  const [editing, setEditing] = useState(false);
  // Set when the editor closes, so focus goes back to the button that opened it.
  const returning = useRef(false);
  const stopEditing = () => {
    returning.current = true;
    setEditing(false);
  };
  const refresh = () => answers.refresh(UserService.method.listAddresses);
  const editButton = useRef<HTMLButtonElement | null>(null);
  const update = useMutation(UserService.method.updateAddress, {
    onSuccess: async (_, request) => {
      await refresh();
      if (request.address) stopEditing();
      // "Make default" is gone from the entry now: focus goes to its Edit button rather than to the page.
      else editButton.current?.focus();
      onDone("saved");
    },
  });
  const remove = useMutation(UserService.method.deleteAddress, {
    onSuccess: async () => {
      await refresh();
      onDone("removed");
    },
  });
  const shown = lines(saved.address!);
  // What the buttons act on, read by screen readers: the whole address, so two at one street differ.
  const target = shown.join(", ");
  if (editing)
    return (
      <AddressEditor
        idPrefix={`address-${saved.id}-`}
        title={t(m.editing)}
        initial={formOf(saved.address)}
        pending={update.isPending}
        error={update.error}
        focusOnOpen
        onCancel={() => {
          update.reset();
          stopEditing();
        }}
        onSave={(address) => update.mutate({ userId, addressId: saved.id, address })}
      />
    );
  return (
    <>
      <p className="address">
        {shown.join("\n")}
        {saved.isDefault && (
          <>
            {"\n"}
            <strong className="badge">{t(m.isDefault)}</strong>
          </>
        )}
      </p>
      {(update.isError || remove.isError) && <Problem error={update.error ?? remove.error} known={ADDRESS_ERRORS} />}
      <p className="actions">
        <button
          type="button"
          className="secondary"
          onClick={() => {
            update.reset();
            setEditing(true);
          }}
          ref={(button) => {
            editButton.current = button;
            if (button && returning.current) {
              button.focus();
              returning.current = false;
            }
          }}
        >
          {t(m.edit)} <span className="visually-hidden">{target}</span>
        </button>{" "}
        {!saved.isDefault && (
          <SubmitButton
            type="button"
            className="secondary"
            pending={update.isPending}
            pendingText={t(m.makingDefault)}
            target={target}
            onClick={() => update.mutate({ userId, addressId: saved.id, makeDefault: true })}
          >
            {t(m.makeDefault)}
          </SubmitButton>
        )}{" "}
        <Confirm
          action={t(m.remove)}
          target={target}
          question={t(m.removeQuestion)}
          confirm={t(m.removeConfirm)}
          pendingText={t(m.removing)}
          pending={remove.isPending}
          onConfirm={() => remove.mutate({ userId, addressId: saved.id })}
        />
      </p>
    </>
  );
}

/** The form that adds an address to the book. */
function AddAddress({ userId, onDone }: { userId: string; onDone: () => void }) {
  const { t } = useLanguage();
  const answers = useAnswers();
  // Remounted after each address saved, so the form starts empty again.
  const [round, setRound] = useState(0);
  const add = useMutation(UserService.method.addAddress, {
    onSuccess: async () => {
      await answers.refresh(UserService.method.listAddresses);
      setRound((n) => n + 1);
      onDone();
    },
  });
  return (
    <AddressEditor
      key={round}
      idPrefix="new-address-"
      title={t(m.add)}
      initial={blankAddress()}
      pending={add.isPending}
      error={add.error}
      asDefault
      onSave={(address, makeDefault) => add.mutate({ userId, address, makeDefault })}
    />
  );
}

interface EditorProps {
  idPrefix: string;
  title: string;
  initial: AddressForm;
  pending: boolean;
  error: unknown;
  /** Offers "make this my default address". */
  asDefault?: boolean;
  /** Takes focus when it opens (in place of the button that opened it). */
  focusOnOpen?: boolean;
  onCancel?: () => void;
  onSave: (address: AddressForm, makeDefault: boolean) => void;
}

function AddressEditor(props: EditorProps) {
  const { idPrefix, title, initial, pending, error, asDefault, focusOnOpen, onCancel, onSave } = props;
  const { t } = useLanguage();
  const [address, setAddress] = useState(initial);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focusOnOpen) heading.current?.focus();
  }, [focusOnOpen]);
  const [makeDefault, setMakeDefault] = useState(false);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSave(address, makeDefault);
  };
  return (
    <form onSubmit={submit} className="stacked" aria-labelledby={`${idPrefix}title`}>
      <h3 id={`${idPrefix}title`} ref={heading} tabIndex={-1}>
        {title}
      </h3>
      {error ? <Problem error={error} known={ADDRESS_ERRORS} /> : null}
      <AddressFields idPrefix={idPrefix} value={address} onChange={setAddress} />
      {asDefault && (
        <p>
          <input
            id={`${idPrefix}default`}
            type="checkbox"
            checked={makeDefault}
            onChange={(e) => setMakeDefault(e.target.checked)}
          />{" "}
          <label htmlFor={`${idPrefix}default`}>{t(m.asDefault)}</label>
        </p>
      )}
      <p className="actions">
        <SubmitButton pending={pending} pendingText={t(m.saving)}>
          {t(m.save)}
        </SubmitButton>{" "}
        {onCancel && (
          <button type="button" className="secondary" onClick={onCancel}>
            {t(m.cancel)}
          </button>
        )}
      </p>
    </form>
  );
}
