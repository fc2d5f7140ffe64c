import { Code } from "@connectrpc/connect";
import { useInfiniteQuery, useMutation, useQuery } from "@connectrpc/connect-query";
import { type FormEvent, useId, useState } from "react";
import { Link } from "react-router";

import { nextPage, useAnswers } from "../api";
import { DeliveryStatus, type Endpoint, WebhookService } from "../gen/webhook/v1/webhook_service_pb";
import { messages, useLanguage } from "../i18n";
import { Confirm, Field, More, Problem, SubmitButton, useFormat } from "../ui";
import { PAGE_SIZE, Scroll } from "./common";

/** The event types an endpoint can ask for: the event catalogue (services/user/src/webhooks/mod.rs). */
const EVENT_TYPES = [
  "order.v1.confirmed",
  "order.v1.cancelled",
  "order.v1.shipped",
  "product.v1.published",
  "product.v1.hidden",
  "product.v1.repriced",
  "product.v1.stock_low",
  "product.v1.sold_out",
  "user.v1.registered",
  "user.v1.email_changed",
  "user.v1.email_verified",
  "user.v1.password_reset_requested",
];

const m = messages({
  title: { en: "Webhooks", ja: "Webhook" },
  about: {
    en: "Events are sent to your other systems as signed HTTPS requests (Standard Webhooks): verify them with the endpoint's secret.",
    ja: "イベントは署名付きの HTTPS リクエスト（Standard Webhooks）として他のシステムに送られます。エンドポイントのシークレットで検証してください。",
  },
  endpoints: { en: "Endpoints", ja: "エンドポイント" },
  loading: { en: "Loading…", ja: "読み込んでいます…" },
  none: { en: "No endpoint yet.", ja: "エンドポイントはまだありません。" },
  url: { en: "URL", ja: "URL" },
  description: { en: "Description (optional)", ja: "説明（任意）" },
  events: { en: "Events", ja: "イベント" },
  eventsHelp: { en: "None chosen: every event.", ja: "選ばなければすべてのイベントを送ります。" },
  every: { en: "Every event", ja: "すべてのイベント" },
  status: { en: "Status", ja: "状態" },
  enabled: { en: "Enabled", ja: "有効" },
  disabled: { en: "Disabled", ja: "無効" },
  disabledBecause: { en: "Disabled: {reason}", ja: "無効：{reason}" },
  enable: { en: "Enable", ja: "有効にする" },
  disable: { en: "Disable", ja: "無効にする" },
  changing: { en: "Changing…", ja: "変更しています…" },
  rotate: { en: "New secret", ja: "シークレットを再発行" },
  rotating: { en: "Making a new secret…", ja: "再発行しています…" },
  deliveries: { en: "Deliveries", ja: "配信履歴" },
  delete: { en: "Delete", ja: "削除" },
  deleteQuestion: {
    en: "Delete the endpoint {url} and its deliveries?",
    ja: "エンドポイント {url} と配信履歴を削除しますか？",
  },
  deleteConfirm: { en: "Yes, delete it", ja: "はい、削除します" },
  deleting: { en: "Deleting…", ja: "削除しています…" },
  newEndpoint: { en: "New endpoint", ja: "新しいエンドポイント" },
  create: { en: "Add endpoint", ja: "エンドポイントを追加" },
  creating: { en: "Adding…", ja: "追加しています…" },
  secret: {
    en: "The endpoint's secret, shown only now: copy it to the receiving system.",
    ja: "エンドポイントのシークレットです。表示は今回だけなので、受信側のシステムにコピーしてください。",
  },
  rotated: {
    en: "The new secret, shown only now. The old one also signs for the next 24 hours.",
    ja: "新しいシークレットです（表示は今回だけ）。古いシークレットも24時間は署名に使われます。",
  },
  invalid: {
    en: "The URL is not one the shop can call: it must be https:// and on the public internet.",
    ja: "この URL には送信できません。https:// で始まる、インターネット上の公開アドレスにしてください。",
  },
  tooMany: { en: "The shop has as many endpoints as it can have (50).", ja: "エンドポイントは50個までです。" },
  back: { en: "All endpoints", ja: "エンドポイント一覧" },
  deliveriesOf: { en: "Deliveries to {url}", ja: "{url} への配信履歴" },
  noDeliveries: { en: "Nothing was sent yet.", ja: "まだ何も送信していません。" },
  event: { en: "Event", ja: "イベント" },
  attempts: { en: "Attempts", ja: "試行回数" },
  answer: { en: "Answer", ja: "応答" },
  latency: { en: "Time", ja: "所要時間" },
  when: { en: "Last attempt", ja: "最終試行" },
  pending: { en: "Pending", ja: "送信待ち" },
  succeeded: { en: "Delivered", ja: "配信済み" },
  failed: { en: "Failed", ja: "失敗" },
  noAnswer: { en: "no answer", ja: "応答なし" },
  redeliver: { en: "Send again", ja: "再送" },
  redelivering: { en: "Sending…", ja: "送信しています…" },
  endpointDisabled: {
    en: "Enable the endpoint before sending again.",
    ja: "再送する前にエンドポイントを有効にしてください。",
  },
  refresh: { en: "Refresh", ja: "更新" },
  gone: { en: "That endpoint no longer exists.", ja: "そのエンドポイントはもう存在しません。" },
});

/** The shop's webhook endpoints: added, enabled and disabled, given new secrets, deleted. */
export function WebhooksPage() {
  const { t } = useLanguage();
  const endpoints = useQuery(WebhookService.method.listEndpoints, {});
  const [secret, setSecret] = useState<{ text: string; rotated: boolean } | null>(null);
  return (
    <section aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">{t(m.title)}</h1>
      <p className="help">{t(m.about)}</p>
      {secret && (
        <div role="status" className="secret">
          <p>{t(secret.rotated ? m.rotated : m.secret)}</p>
          <code data-testid="webhook-secret">{secret.text}</code>
        </div>
      )}
      <section aria-labelledby="endpoints-title">
        <h2 id="endpoints-title">{t(m.endpoints)}</h2>
        {endpoints.isPending && <p role="status">{t(m.loading)}</p>}
        {endpoints.isError && <Problem error={endpoints.error} />}
        {endpoints.isSuccess && endpoints.data.endpoints.length === 0 && <p>{t(m.none)}</p>}
        {endpoints.isSuccess && endpoints.data.endpoints.length > 0 && (
          <Scroll label={t(m.endpoints)}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t(m.url)}</th>
                  <th scope="col">{t(m.events)}</th>
                  <th scope="col">{t(m.status)}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t(m.deliveries)}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {endpoints.data.endpoints.map((endpoint) => (
                  <EndpointRow
                    key={endpoint.id}
                    endpoint={endpoint}
                    onSecret={(text) => {
                      setSecret({ text, rotated: true });
                    }}
                  />
                ))}
              </tbody>
            </table>
          </Scroll>
        )}
      </section>
      <NewEndpoint
        onCreated={(text) => {
          setSecret({ text, rotated: false });
        }}
      />
    </section>
  );
}

function EndpointRow({ endpoint, onSecret }: { endpoint: Endpoint; onSecret: (secret: string) => void }) {
  const { t } = useLanguage();
  const answers = useAnswers();
  const refresh = () => answers.refresh(WebhookService.method.listEndpoints);
  const toggle = useMutation(WebhookService.method.updateEndpoint, { onSuccess: refresh });
  const rotate = useMutation(WebhookService.method.rotateSecret, {
    onSuccess: (answer) => {
      onSecret(answer.secret);
    },
  });
  const remove = useMutation(WebhookService.method.deleteEndpoint, { onSuccess: refresh });
  const status = endpoint.enabled
    ? t(m.enabled)
    : endpoint.disabledReason
      ? t(m.disabledBecause, { reason: endpoint.disabledReason })
      : t(m.disabled);
  return (
    <tr>
      <th scope="row">
        <code>{endpoint.url}</code>
        {endpoint.description && <div className="help">{endpoint.description}</div>}
      </th>
      <td>{endpoint.eventTypes.length === 0 ? t(m.every) : endpoint.eventTypes.join(", ")}</td>
      <td>
        {status}
        {(toggle.isError || rotate.isError || remove.isError) && (
          <Problem error={toggle.error ?? rotate.error ?? remove.error} known={{ [Code.NotFound]: m.gone }} />
        )}
      </td>
      <td className="actions">
        <Link to={`/admin/webhooks/${endpoint.id}`}>
          {t(m.deliveries)} <span className="visually-hidden">{endpoint.url}</span>
        </Link>{" "}
        <SubmitButton
          type="button"
          className="secondary"
          pending={toggle.isPending}
          pendingText={t(m.changing)}
          target={endpoint.url}
          onClick={() => {
            toggle.mutate({ id: endpoint.id, enabled: !endpoint.enabled });
          }}
        >
          {t(endpoint.enabled ? m.disable : m.enable)}
        </SubmitButton>{" "}
        <SubmitButton
          type="button"
          className="secondary"
          pending={rotate.isPending}
          pendingText={t(m.rotating)}
          target={endpoint.url}
          onClick={() => {
            rotate.mutate({ id: endpoint.id });
          }}
        >
          {t(m.rotate)}
        </SubmitButton>{" "}
        <Confirm
          action={t(m.delete)}
          target={endpoint.url}
          question={t(m.deleteQuestion, { url: endpoint.url })}
          confirm={t(m.deleteConfirm)}
          pendingText={t(m.deleting)}
          pending={remove.isPending}
          onConfirm={() => {
            remove.mutate({ id: endpoint.id });
          }}
        />
      </td>
    </tr>
  );
}

function NewEndpoint({ onCreated }: { onCreated: (secret: string) => void }) {
  const { t } = useLanguage();
  const answers = useAnswers();
  const id = useId();
  const [form, setForm] = useState({ url: "", description: "", types: [] as string[] });
  const create = useMutation(WebhookService.method.createEndpoint, {
    onSuccess: async (answer) => {
      onCreated(answer.secret);
      setForm({ url: "", description: "", types: [] });
      await answers.refresh(WebhookService.method.listEndpoints);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ url: form.url.trim(), description: form.description.trim(), eventTypes: form.types });
  };
  return (
    <form onSubmit={submit} className="stacked" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{t(m.newEndpoint)}</h2>
      {create.isError && (
        <Problem
          error={create.error}
          known={{ [Code.InvalidArgument]: m.invalid, [Code.ResourceExhausted]: m.tooMany }}
        />
      )}
      <Field
        id={`${id}-url`}
        label={t(m.url)}
        type="url"
        required
        maxLength={2000}
        placeholder="https://"
        value={form.url}
        onChange={(e) => {
          setForm({ ...form, url: e.target.value });
        }}
      />
      <Field
        id={`${id}-description`}
        label={t(m.description)}
        maxLength={200}
        value={form.description}
        onChange={(e) => {
          setForm({ ...form, description: e.target.value });
        }}
      />
      <fieldset className="choices">
        <legend>{t(m.events)}</legend>
        <p className="help">{t(m.eventsHelp)}</p>
        {EVENT_TYPES.map((type) => (
          <label key={type}>
            <input
              type="checkbox"
              checked={form.types.includes(type)}
              onChange={(e) => {
                const types = e.target.checked ? [...form.types, type] : form.types.filter((chosen) => chosen !== type);
                setForm({ ...form, types });
              }}
            />{" "}
            <code>{type}</code>
          </label>
        ))}
      </fieldset>
      <SubmitButton pending={create.isPending} pendingText={t(m.creating)}>
        {t(m.create)}
      </SubmitButton>
    </form>
  );
}

/** One endpoint's deliveries, newest first, each with its latest attempt, and sending one again. */
export function WebhookDeliveriesPage({ id }: { id: string }) {
  const { t } = useLanguage();
  const format = useFormat();
  const answers = useAnswers();
  const endpoints = useQuery(WebhookService.method.listEndpoints, {});
  const endpoint = endpoints.data?.endpoints.find((e) => e.id === id);
  const deliveries = useInfiniteQuery(
    WebhookService.method.listDeliveries,
    { endpointId: id, pageSize: PAGE_SIZE, pageToken: "" },
    { pageParamKey: "pageToken", getNextPageParam: nextPage },
  );
  const refresh = () => answers.refresh(WebhookService.method.listDeliveries);
  const redeliver = useMutation(WebhookService.method.redeliverDelivery, { onSuccess: refresh });
  const shown = deliveries.data?.pages.flatMap((page) => page.deliveries) ?? [];
  const statusText = (status: DeliveryStatus) =>
    status === DeliveryStatus.SUCCEEDED
      ? t(m.succeeded)
      : status === DeliveryStatus.FAILED
        ? t(m.failed)
        : t(m.pending);
  return (
    <section aria-labelledby="deliveries-title">
      <p>
        <Link to="/admin/webhooks">{t(m.back)}</Link>
      </p>
      <h1 id="deliveries-title">{t(m.deliveriesOf, { url: endpoint?.url ?? "…" })}</h1>
      <button type="button" className="secondary" onClick={() => void refresh()}>
        {t(m.refresh)}
      </button>
      {redeliver.isError && (
        <Problem error={redeliver.error} known={{ [Code.FailedPrecondition]: m.endpointDisabled }} />
      )}
      {deliveries.isPending && <p role="status">{t(m.loading)}</p>}
      {deliveries.isError && <Problem error={deliveries.error} known={{ [Code.NotFound]: m.gone }} />}
      {deliveries.isSuccess && shown.length === 0 && <p>{t(m.noDeliveries)}</p>}
      {shown.length > 0 && (
        <Scroll label={t(m.deliveries)}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t(m.event)}</th>
                <th scope="col">{t(m.status)}</th>
                <th scope="col">{t(m.attempts)}</th>
                <th scope="col">{t(m.answer)}</th>
                <th scope="col">{t(m.latency)}</th>
                <th scope="col">{t(m.when)}</th>
                <th scope="col">
                  <span className="visually-hidden">{t(m.redeliver)}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((delivery) => (
                <tr key={delivery.id} data-testid="delivery">
                  <th scope="row">
                    <code>{delivery.eventType}</code>
                  </th>
                  <td>
                    {statusText(delivery.status)}
                    {delivery.error && <div className="help">{delivery.error}</div>}
                  </td>
                  <td>{delivery.attempts}</td>
                  <td>{delivery.responseStatus || t(m.noAnswer)}</td>
                  <td>{delivery.attempts > 0 ? `${delivery.latencyMs} ms` : ""}</td>
                  <td>{format.date(delivery.lastAttemptAt)}</td>
                  <td>
                    <SubmitButton
                      type="button"
                      className="secondary"
                      pending={redeliver.isPending && redeliver.variables.id === delivery.id}
                      pendingText={t(m.redelivering)}
                      target={delivery.eventType}
                      onClick={() => {
                        redeliver.mutate({ id: delivery.id });
                      }}
                    >
                      {t(m.redeliver)}
                    </SubmitButton>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      <More {...deliveries} />
    </section>
  );
}
