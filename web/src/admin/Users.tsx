import { Code } from "@connectrpc/connect";
import { useInfiniteQuery, useMutation } from "@connectrpc/connect-query";
import { type FormEvent, useState } from "react";

import { nextPage, useAnswers } from "../api";
import { Role, type User, UserService } from "../gen/user/v1/user_service_pb";
import { messages, useLanguage } from "../i18n";
import { useSignedInUser } from "../session";
import { Field, More, Problem, SubmitButton, useFormat } from "../ui";
import { PAGE_SIZE, Scroll } from "./common";

const m = messages({
  title: { en: "Users", ja: "ユーザー" },
  filter: { en: "Filter users", ja: "ユーザーの絞り込み" },
  emailContains: { en: "Email contains", ja: "メールアドレスに含む文字" },
  apply: { en: "Filter", ja: "絞り込む" },
  rolesHelp: {
    en: "A change of role applies from that person's next sign-in.",
    ja: "権限の変更は、その人が次にログインしたときから有効になります。",
  },
  loading: { en: "Loading users…", ja: "ユーザーを読み込んでいます…" },
  none: { en: "No users.", ja: "ユーザーはいません。" },
  email: { en: "Email", ja: "メールアドレス" },
  name: { en: "Name", ja: "名前" },
  role: { en: "Role", ja: "権限" },
  joined: { en: "Joined", ja: "登録日時" },
  admin: { en: "Administrator", ja: "管理者" },
  customer: { en: "Customer", ja: "一般ユーザー" },
  you: { en: "(you)", ja: "（あなた）" },
  grant: { en: "Make admin", ja: "管理者にする" },
  revoke: { en: "Remove admin", ja: "管理者から外す" },
  changing: { en: "Changing…", ja: "変更しています…" },
  granted: { en: "{email} is now an administrator.", ja: "{email}を管理者にしました。" },
  revoked: { en: "{email} is no longer an administrator.", ja: "{email}を管理者から外しました。" },
  ownRole: {
    en: "You cannot remove your own admin role: another administrator has to.",
    ja: "自分の管理者権限は外せません。ほかの管理者に依頼してください。",
  },
  unconfirmed: { en: "(email not confirmed)", ja: "（メール未確認）" },
  needsConfirmation: {
    en: "Only an account whose email address is confirmed can be made an administrator.",
    ja: "メールアドレスが確認済みのアカウントだけを管理者にできます。",
  },
});

/** Accounts, newest first, filtered by email, with the admin role granted and removed in place. */
export function UsersPage() {
  const { t } = useLanguage();
  const format = useFormat();
  const answers = useAnswers();
  const userId = useSignedInUser().profile.sub;
  const [draft, setDraft] = useState("");
  const [emailContains, setEmailContains] = useState("");
  const users = useInfiniteQuery(
    UserService.method.listUsers,
    { pageSize: PAGE_SIZE, pageToken: "", emailContains },
    { pageParamKey: "pageToken", getNextPageParam: nextPage },
  );
  const setAdmin = useMutation(UserService.method.setUserRole, {
    onSuccess: () => answers.refresh(UserService.method.listUsers),
  });
  // Whose role is changing: said by email, which the request does not carry.
  const [whose, setWhose] = useState<User | null>(null);
  const change = (user: User, granted: boolean) => {
    setWhose(user);
    setAdmin.mutate({ id: user.id, role: Role.ADMIN, granted });
  };
  const shown = users.data?.pages.flatMap((page) => page.users) ?? [];
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setEmailContains(draft.trim());
  };

  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">{t(m.title)}</h1>
      <form role="search" aria-label={t(m.filter)} onSubmit={apply} className="filters">
        <Field
          id="user-email"
          label={t(m.emailContains)}
          type="search"
          value={draft}
          onChange={(e) => {
            setDraft(e.target.value);
          }}
        />
        <button type="submit">{t(m.apply)}</button>
      </form>
      <p className="help">{t(m.rolesHelp)}</p>
      {setAdmin.isSuccess && whose && (
        <p role="status">{t(setAdmin.variables.granted ? m.granted : m.revoked, { email: whose.email })}</p>
      )}
      {setAdmin.isError && (
        <Problem
          error={setAdmin.error}
          known={{ [Code.FailedPrecondition]: setAdmin.variables.granted ? m.needsConfirmation : m.ownRole }}
        />
      )}
      {users.isPending && <p role="status">{t(m.loading)}</p>}
      {users.isError && <Problem error={users.error} />}
      {users.isSuccess && shown.length === 0 && <p>{t(m.none)}</p>}
      {shown.length > 0 && (
        <Scroll label={t(m.title)}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t(m.email)}</th>
                <th scope="col">{t(m.name)}</th>
                <th scope="col">{t(m.role)}</th>
                <th scope="col">{t(m.joined)}</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((user) => {
                const admin = user.roles.includes(Role.ADMIN);
                const changing = setAdmin.isPending && setAdmin.variables.id === user.id;
                return (
                  <tr key={user.id}>
                    <th scope="row">
                      {user.email} {user.id === userId && t(m.you)} {!user.emailVerified && t(m.unconfirmed)}
                    </th>
                    <td>{user.name}</td>
                    <td>
                      {t(admin ? m.admin : m.customer)}{" "}
                      <SubmitButton
                        type="button"
                        className="secondary"
                        pending={changing}
                        pendingText={t(m.changing)}
                        target={user.email}
                        onClick={() => {
                          change(user, !admin);
                        }}
                      >
                        {t(admin ? m.revoke : m.grant)}
                      </SubmitButton>
                    </td>
                    <td>{format.date(user.createdAt)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </Scroll>
      )}
      <More {...users} />
    </section>
  );
}
