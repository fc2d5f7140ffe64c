import { Code } from "@connectrpc/connect";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { type FormEvent, useState } from "react";

import { AddressBook } from "./addresses";
import { useAnswers } from "./api";
import { UserService } from "./gen/user/v1/user_service_pb";
import { messages, useLanguage } from "./i18n";
import { useSession, useSignedInUser } from "./session";
import { Field, Problem, SubmitButton } from "./ui";

const m = messages({
  email: { en: "Email", ja: "メールアドレス" },
  name: { en: "Name (optional)", ja: "お名前（任意）" },
  password: { en: "Password", ja: "パスワード" },
  taken: {
    en: "An account with this email already exists. Sign in instead.",
    ja: "このメールアドレスのアカウントはすでにあります。ログインしてください。",
  },
  account: { en: "Your account", ja: "アカウント" },
  loading: { en: "Loading your account…", ja: "アカウントを読み込んでいます…" },
  profile: { en: "Profile", ja: "プロフィール" },
  save: { en: "Save", ja: "保存" },
  saving: { en: "Saving…", ja: "保存しています…" },
  saved: { en: "Saved.", ja: "保存しました。" },
  invalidProfile: {
    en: "Check the email address and the name (at most 100 characters).",
    ja: "メールアドレスとお名前（100文字以内）を確認してください。",
  },
  changePassword: { en: "Change password", ja: "パスワードの変更" },
  currentPassword: { en: "Current password", ja: "現在のパスワード" },
  newPassword: { en: "New password", ja: "新しいパスワード" },
  change: { en: "Change password", ja: "パスワードを変更" },
  changing: { en: "Changing…", ja: "変更しています…" },
  changed: { en: "Your password is changed.", ja: "パスワードを変更しました。" },
  wrongPassword: { en: "Your current password is not right.", ja: "現在のパスワードが正しくありません。" },
  tooManyWrong: {
    en: "Too many wrong passwords lately. Please wait a few minutes and try again.",
    ja: "パスワードの誤りが続いたため、しばらく変更できません。数分待ってからお試しください。",
  },
  invalidPassword: {
    en: "The new password needs 8 to 128 characters.",
    ja: "新しいパスワードは8〜128文字で指定してください。",
  },
  deleteAccount: { en: "Delete account", ja: "アカウントの削除" },
  deleteWarning: {
    en: "Your account is closed for good: you can no longer sign in or see your orders.",
    ja: "アカウントは完全に閉鎖され、ログインや注文履歴の閲覧ができなくなります。",
  },
  understand: { en: "I understand, delete my account", ja: "理解しました。アカウントを削除します" },
  delete: { en: "Delete my account", ja: "アカウントを削除" },
  confirmPassword: { en: "Your password", ja: "パスワード" },
  confirmEmailHelp: {
    en: "Needed to change your email address.",
    ja: "メールアドレスを変更するときに必要です。",
  },
  confirmDeleteHelp: { en: "Needed to delete your account.", ja: "アカウントを削除するときに必要です。" },
  deleting: { en: "Deleting…", ja: "削除しています…" },
  emailConfirmed: { en: "Your email address is confirmed.", ja: "メールアドレスは確認済みです。" },
  emailUnconfirmed: {
    en: "Your email address is not confirmed yet: open the link we sent to it.",
    ja: "メールアドレスはまだ確認されていません。お送りしたメールのリンクを開いてください。",
  },
  resend: { en: "Send the link again", ja: "確認メールを再送する" },
  resending: { en: "Sending…", ja: "送信しています…" },
  resent: { en: "A new link is on its way.", ja: "新しいリンクをお送りしました。" },
  resentMomentsAgo: {
    en: "A link was sent less than a minute ago. Check your inbox, or try again in a minute.",
    ja: "1分以内にリンクをお送りしています。受信箱をご確認いただくか、1分後にもう一度お試しください。",
  },
});

/** What a change checked against the account's current password may meet: a wrong one, or too many lately. */
const PASSWORD_CHECK_ERRORS = { [Code.FailedPrecondition]: m.wrongPassword, [Code.ResourceExhausted]: m.tooManyWrong };

/** The account's current password, asked before a change only its holder may make. */
function CurrentPassword(props: {
  id: string;
  label: string;
  help?: string;
  value: string;
  onChange: (value: string) => void;
}) {
  const { onChange, ...field } = props;
  return (
    <Field
      {...field}
      type="password"
      autoComplete="current-password"
      required
      maxLength={128}
      onChange={(e) => {
        onChange(e.target.value);
      }}
    />
  );
}

/** The signed-in user's own account: profile, address book, password, and closing the account. */
export function AccountPage() {
  const { t } = useLanguage();
  const userId = useSignedInUser().profile.sub;
  const account = useQuery(UserService.method.getUser, { id: userId });
  if (account.isPending) return <p role="status">{t(m.loading)}</p>;
  if (account.isError) return <Problem error={account.error} />;
  const user = account.data.user!;
  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">{t(m.account)}</h1>
      <Profile userId={userId} email={user.email} name={user.name ?? ""} />
      <EmailConfirmation userId={userId} confirmed={user.emailVerified} />
      <AddressBook userId={userId} />
      <ChangePassword userId={userId} />
      <DeleteAccount userId={userId} />
    </section>
  );
}

/** Whether the account's address is confirmed, and a button to send the link again while it is not. */
function EmailConfirmation({ userId, confirmed }: { userId: string; confirmed: boolean }) {
  const { t } = useLanguage();
  const resend = useMutation(UserService.method.sendVerificationEmail);
  if (confirmed)
    return (
      <p className="email-status" data-testid="email-status">
        {t(m.emailConfirmed)}
      </p>
    );
  return (
    <div className="email-status" data-testid="email-status">
      <p>{t(m.emailUnconfirmed)}</p>
      {resend.isSuccess && <p role="status">{t(m.resent)}</p>}
      {resend.isError && <Problem error={resend.error} known={{ [Code.ResourceExhausted]: m.resentMomentsAgo }} />}
      <SubmitButton
        type="button"
        pending={resend.isPending}
        pendingText={t(m.resending)}
        onClick={() => {
          resend.mutate({ id: userId });
        }}
      >
        {t(m.resend)}
      </SubmitButton>
    </div>
  );
}

function Profile({ userId, email, name }: { userId: string; email: string; name: string }) {
  const { t } = useLanguage();
  const answers = useAnswers();
  const [form, setForm] = useState({ email, name, password: "" });
  const emailChanges = form.email.trim() !== email;
  const save = useMutation(UserService.method.updateUser, {
    onSuccess: (answer) => {
      answers.put(UserService.method.getUser, { id: userId }, { user: answer.user });
      setForm((current) => ({ ...current, password: "" }));
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate({
      id: userId,
      email: emailChanges ? form.email.trim() : undefined,
      name: form.name.trim() === name ? undefined : form.name.trim(),
      currentPassword: emailChanges ? form.password : "",
    });
  };
  return (
    <form onSubmit={submit} className="stacked" aria-labelledby="profile-title">
      <h2 id="profile-title">{t(m.profile)}</h2>
      {save.isSuccess && <p role="status">{t(m.saved)}</p>}
      {save.isError && (
        <Problem
          error={save.error}
          known={{
            [Code.InvalidArgument]: m.invalidProfile,
            [Code.AlreadyExists]: m.taken,
            ...PASSWORD_CHECK_ERRORS,
          }}
        />
      )}
      <Field
        id="profile-email"
        label={t(m.email)}
        type="email"
        autoComplete="email"
        required
        maxLength={254}
        value={form.email}
        onChange={(e) => setForm({ ...form, email: e.target.value })}
      />
      <Field
        id="profile-name"
        label={t(m.name)}
        autoComplete="name"
        maxLength={100}
        value={form.name}
        onChange={(e) => setForm({ ...form, name: e.target.value })}
      />
      {emailChanges && (
        <CurrentPassword
          id="profile-password"
          label={t(m.confirmPassword)}
          help={t(m.confirmEmailHelp)}
          value={form.password}
          onChange={(password) => setForm({ ...form, password })}
        />
      )}
      <SubmitButton pending={save.isPending} pendingText={t(m.saving)}>
        {t(m.save)}
      </SubmitButton>
    </form>
  );
}

function ChangePassword({ userId }: { userId: string }) {
  const { t } = useLanguage();
  const [form, setForm] = useState({ current: "", next: "" });
  const change = useMutation(UserService.method.changePassword, {
    onSuccess: () => {
      setForm({ current: "", next: "" });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    change.mutate({ id: userId, currentPassword: form.current, newPassword: form.next });
  };
  return (
    <form onSubmit={submit} className="stacked" aria-labelledby="password-title">
      <h2 id="password-title">{t(m.changePassword)}</h2>
      {change.isSuccess && <p role="status">{t(m.changed)}</p>}
      {change.isError && (
        <Problem
          error={change.error}
          known={{
            ...PASSWORD_CHECK_ERRORS,
            [Code.InvalidArgument]: m.invalidPassword,
          }}
        />
      )}
      <CurrentPassword
        id="current-password"
        label={t(m.currentPassword)}
        value={form.current}
        onChange={(current) => setForm({ ...form, current })}
      />
      <Field
        id="new-password"
        label={t(m.newPassword)}
        type="password"
        autoComplete="new-password"
        required
        minLength={8}
        maxLength={128}
        value={form.next}
        onChange={(e) => setForm({ ...form, next: e.target.value })}
      />
      <SubmitButton pending={change.isPending} pendingText={t(m.changing)}>
        {t(m.change)}
      </SubmitButton>
    </form>
  );
}

/** Deleting the account, then signing out at the issuer too, so no remembered login outlives the account. */
function DeleteAccount({ userId }: { userId: string }) {
  const { t } = useLanguage();
  const { signOut } = useSession();
  const [sure, setSure] = useState(false);
  const [password, setPassword] = useState("");
  // Pending until the browser leaves for the issuer's sign-out page.
  const remove = useMutation(UserService.method.deleteUser, { onSuccess: signOut });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (sure) remove.mutate({ id: userId, currentPassword: password });
  };
  return (
    <form onSubmit={submit} className="stacked danger" aria-labelledby="delete-title">
      <h2 id="delete-title">{t(m.deleteAccount)}</h2>
      <p>{t(m.deleteWarning)}</p>
      {remove.isError && <Problem error={remove.error} known={PASSWORD_CHECK_ERRORS} />}
      <CurrentPassword
        id="delete-password"
        label={t(m.confirmPassword)}
        help={t(m.confirmDeleteHelp)}
        value={password}
        onChange={setPassword}
      />
      <p>
        <input id="delete-sure" type="checkbox" checked={sure} onChange={(e) => setSure(e.target.checked)} />{" "}
        <label htmlFor="delete-sure">{t(m.understand)}</label>
      </p>
      <SubmitButton
        className="danger"
        pending={remove.isPending}
        pendingText={t(m.deleting)}
        disabled={!sure || !password}
      >
        {t(m.delete)}
      </SubmitButton>
    </form>
  );
}
