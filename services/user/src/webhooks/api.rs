//! The `webhook.v1.WebhookService` handlers: admins only, every call confirmed against the database.

use buffa::MessageField;
use connectrpc::{RequestContext, Response, ServiceRequest, ServiceResult};
use ec_platform::{
    access::Access,
    identity::Caller,
    page_token::{self, PageTokens},
};
use ec_proto::webhook::v1::{
    self as wire, CreateEndpointRequest, CreateEndpointResponse, DeleteEndpointRequest, DeleteEndpointResponse,
    ListDeliveriesRequest, ListDeliveriesResponse, ListEndpointsRequest, ListEndpointsResponse,
    RedeliverDeliveryRequest, RedeliverDeliveryResponse, RotateSecretRequest, RotateSecretResponse,
    UpdateEndpointRequest, UpdateEndpointResponse, WebhookService,
};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    Settings, address,
    deliverer::Nudge,
    endpoints::{self, Change, DeliveryRow, EndpointRow},
    signing,
};
use crate::{accounts, error::Error};

/// What page tokens of ListDeliveries are signed for.
pub const PAGE_TOKEN_PURPOSE: &[u8] = b"webhook-deliveries";

/// The webhook RPC handlers.
#[derive(Clone)]
pub struct WebhookApi {
    pool: PgPool,
    access: Access,
    settings: Settings,
    tokens: PageTokens,
    nudge: Nudge,
}

impl WebhookApi {
    /// Handlers over `pool` for the admins `access` admits, checking URLs under `settings`, signing page tokens
    /// with `tokens`, and nudging the deliverer on a redelivery.
    pub fn new(pool: PgPool, access: Access, settings: Settings, tokens: PageTokens, nudge: Nudge) -> Self {
        Self { pool, access, settings, tokens, nudge }
    }

    /// The caller, if an admin now.
    async fn admin(&self, ctx: &RequestContext) -> Result<Caller, Error> {
        let caller = self.access.signed_in(ctx)?;
        accounts::admin(&self.pool, &caller).await?;
        Ok(caller)
    }

    async fn url(&self, raw: &str) -> Result<String, Error> {
        Ok(address::check_url(raw, &self.settings).await.map_err(Error::InvalidArgument)?.into())
    }
}

fn id(raw: &str, what: &str) -> Result<Uuid, Error> {
    raw.parse().map_err(|_| Error::InvalidArgument(format!("{what} is not a UUID")))
}

fn endpoint_to_wire(row: EndpointRow) -> wire::Endpoint {
    wire::Endpoint {
        id: row.id.to_string(),
        url: row.url,
        description: row.description,
        event_types: row.event_types,
        enabled: row.enabled,
        disabled_reason: row.disabled_reason,
        created_at: MessageField::some(row.created_at.into()),
        updated_at: MessageField::some(row.updated_at.into()),
        ..Default::default()
    }
}

fn delivery_to_wire(row: DeliveryRow) -> wire::Delivery {
    let status = match row.status.as_str() {
        "succeeded" => wire::DeliveryStatus::DELIVERY_STATUS_SUCCEEDED,
        "failed" => wire::DeliveryStatus::DELIVERY_STATUS_FAILED,
        _ => wire::DeliveryStatus::DELIVERY_STATUS_PENDING,
    };
    let pending = status == wire::DeliveryStatus::DELIVERY_STATUS_PENDING;
    wire::Delivery {
        id: row.id.to_string(),
        endpoint_id: row.endpoint_id.to_string(),
        event_id: row.event_id.to_string(),
        event_type: row.event_type,
        status: status.into(),
        attempts: row.attempts,
        created_at: MessageField::some(row.created_at.into()),
        last_attempt_at: row.last_attempt_at.map(Into::into).into(),
        response_status: row.response_status.unwrap_or_default(),
        error: row.error.unwrap_or_default(),
        latency_ms: row.latency_ms.unwrap_or_default(),
        next_attempt_at: if pending { MessageField::some(row.next_attempt_at.into()) } else { MessageField::none() },
        ..Default::default()
    }
}

#[allow(refining_impl_trait)]
impl WebhookService for WebhookApi {
    async fn create_endpoint(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, CreateEndpointRequest>,
    ) -> ServiceResult<CreateEndpointResponse> {
        let caller = self.admin(&ctx).await?;
        let description = endpoints::description(request.description)?;
        let types: Vec<String> = request.event_types.iter().map(|t| t.to_string()).collect();
        let types = endpoints::event_types(&types)?;
        let url = self.url(request.url).await?;
        let secret = signing::new_secret();
        let row = endpoints::create(&self.pool, &url, &description, &types, &secret).await?;
        tracing::info!(endpoint = %row.id, by = %caller.user_id, "webhook endpoint created");
        Response::ok(CreateEndpointResponse {
            endpoint: MessageField::some(endpoint_to_wire(row)),
            secret,
            ..Default::default()
        })
    }

    async fn list_endpoints(
        &self,
        ctx: RequestContext,
        _request: ServiceRequest<'_, ListEndpointsRequest>,
    ) -> ServiceResult<ListEndpointsResponse> {
        self.admin(&ctx).await?;
        let rows = endpoints::list(&self.pool).await?;
        Response::ok(ListEndpointsResponse {
            endpoints: rows.into_iter().map(endpoint_to_wire).collect(),
            ..Default::default()
        })
    }

    async fn update_endpoint(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UpdateEndpointRequest>,
    ) -> ServiceResult<UpdateEndpointResponse> {
        let caller = self.admin(&ctx).await?;
        let endpoint = id(request.id, "id")?;
        let event_types = match request.event_types.as_option() {
            Some(types) => {
                let types: Vec<String> = types.types.iter().map(|t| t.to_string()).collect();
                Some(endpoints::event_types(&types)?)
            }
            None => None,
        };
        let change = Change {
            description: request.description.map(endpoints::description).transpose()?,
            event_types,
            enabled: request.enabled,
            url: match request.url {
                Some(raw) => Some(self.url(raw).await?),
                None => None,
            },
        };
        let row = endpoints::update(&self.pool, endpoint, &change).await?.ok_or(Error::NotFound("webhook endpoint"))?;
        tracing::info!(endpoint = %row.id, by = %caller.user_id, enabled = row.enabled, "webhook endpoint updated");
        Response::ok(UpdateEndpointResponse {
            endpoint: MessageField::some(endpoint_to_wire(row)),
            ..Default::default()
        })
    }

    async fn delete_endpoint(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, DeleteEndpointRequest>,
    ) -> ServiceResult<DeleteEndpointResponse> {
        let caller = self.admin(&ctx).await?;
        let endpoint = id(request.id, "id")?;
        if !endpoints::delete(&self.pool, endpoint).await? {
            return Err(Error::NotFound("webhook endpoint").into());
        }
        tracing::info!(endpoint = %endpoint, by = %caller.user_id, "webhook endpoint deleted");
        Response::ok(DeleteEndpointResponse::default())
    }

    async fn rotate_secret(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, RotateSecretRequest>,
    ) -> ServiceResult<RotateSecretResponse> {
        let caller = self.admin(&ctx).await?;
        let endpoint = id(request.id, "id")?;
        let secret = signing::new_secret();
        if !endpoints::rotate(&self.pool, endpoint, &secret).await? {
            return Err(Error::NotFound("webhook endpoint").into());
        }
        tracing::info!(endpoint = %endpoint, by = %caller.user_id, "webhook secret rotated");
        Response::ok(RotateSecretResponse { secret, ..Default::default() })
    }

    async fn list_deliveries(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ListDeliveriesRequest>,
    ) -> ServiceResult<ListDeliveriesResponse> {
        self.admin(&ctx).await?;
        let endpoint = id(request.endpoint_id, "endpoint_id")?;
        let size = page_token::page_size(request.page_size).map_err(Error::from)?;
        let binding = page_token::binding(&[b"webhook-deliveries", endpoint.as_bytes()]);
        let now = chrono::Utc::now().timestamp();
        let after = self.tokens.after_id(request.page_token, &binding, now).map_err(Error::from)?;
        if !endpoints::exists(&self.pool, endpoint).await? {
            return Err(Error::NotFound("webhook endpoint").into());
        }
        let mut rows = endpoints::deliveries(&self.pool, endpoint, after, size + 1).await?;
        let next_page_token = if rows.len() > size as usize {
            rows.truncate(size as usize);
            rows.last().map(|last| self.tokens.encode(&binding, last.id.as_bytes(), now)).unwrap_or_default()
        } else {
            String::new()
        };
        Response::ok(ListDeliveriesResponse {
            deliveries: rows.into_iter().map(delivery_to_wire).collect(),
            next_page_token,
            ..Default::default()
        })
    }

    async fn redeliver_delivery(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, RedeliverDeliveryRequest>,
    ) -> ServiceResult<RedeliverDeliveryResponse> {
        let caller = self.admin(&ctx).await?;
        let delivery = id(request.id, "id")?;
        let row = endpoints::redeliver(&self.pool, delivery).await?.ok_or(Error::NotFound("webhook delivery"))?;
        self.nudge.wake();
        tracing::info!(delivery = %delivery, by = %caller.user_id, "webhook delivery sent again");
        Response::ok(RedeliverDeliveryResponse {
            delivery: MessageField::some(delivery_to_wire(row)),
            ..Default::default()
        })
    }
}
