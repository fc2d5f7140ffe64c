//! `product.v1.InventoryService` through the product service's gRPC port, as its callers reach it: who may
//! call what, every error code of the contract, the shortage detail on the wire, and the expiry worker of the
//! running service.

mod support;

use std::time::Duration;

use connectrpc::{
    ErrorCode, Protocol,
    client::{ClientConfig, HttpClient},
};
use ec_proto::product::v1::{
    AdjustInventoryRequest, BatchReserveInventoryRequest, ConfirmReservationRequest, GetInventoryRequest,
    GetReservationRequest, InsufficientStockDetail, InventoryServiceClient, ListLowStockRequest,
    ReleaseReservationRequest, ReservationItem, ReservationStatus, UpdateInventoryRequest,
};
use support::{Service, Who, code};
use uuid::Uuid;

fn reserve(items: &[(&str, i64)], key: &str) -> BatchReserveInventoryRequest {
    BatchReserveInventoryRequest {
        items: items
            .iter()
            .map(|(sku_id, quantity)| ReservationItem {
                sku_id: (*sku_id).to_owned(),
                quantity: *quantity,
                ..Default::default()
            })
            .collect(),
        idempotency_key: key.into(),
        ..Default::default()
    }
}

fn get(sku_id: &str) -> GetInventoryRequest {
    GetInventoryRequest { sku_id: sku_id.into(), ..Default::default() }
}

#[tokio::test]
async fn stock_administration_is_for_admins_and_reservations_for_the_platform_only() {
    let service = Service::start().await;
    let sku = service.skus(&[5]).await.remove(0);

    assert_eq!(code(service.client(Who::Nobody).get_inventory(get(&sku)).await), ErrorCode::Unauthenticated);
    assert_eq!(code(service.client(Who::Customer).get_inventory(get(&sku)).await), ErrorCode::PermissionDenied);
    let stock = service.client(Who::Admin).get_inventory(get(&sku)).await.unwrap().into_owned().inventory;
    assert_eq!((stock.quantity, stock.reserved, stock.available), (5, 0, 5));

    // A client that reaches the port without the platform's secret cannot hold stock, whatever it claims.
    let request = reserve(&[(&sku, 1)], "k");
    assert_eq!(
        code(service.client(Who::Nobody).batch_reserve_inventory(request.clone()).await),
        ErrorCode::PermissionDenied
    );
    let mut forged = http::HeaderMap::new();
    forged.insert("x-ec-internal-token", "not-the-secret".parse().unwrap());
    let config = ClientConfig::new(service.url.clone()).with_protocol(Protocol::Grpc).with_default_headers(forged);
    let forger = InventoryServiceClient::new(HttpClient::plaintext_http2_only(), config);
    assert_eq!(code(forger.batch_reserve_inventory(request.clone()).await), ErrorCode::PermissionDenied);
    let reservation = service.client(Who::Internal).batch_reserve_inventory(request).await.unwrap();
    assert_eq!(reservation.into_owned().reservation.status, ReservationStatus::RESERVATION_STATUS_PENDING);

    // The refused calls held nothing.
    let stock = service.client(Who::Admin).get_inventory(get(&sku)).await.unwrap().into_owned().inventory;
    assert_eq!((stock.quantity, stock.reserved), (5, 1));
    service.stop().await;
}

#[tokio::test]
async fn every_error_of_the_contract_has_its_code() {
    let service = Service::start().await;
    let skus = service.skus(&[3, 1]).await;
    let (a, b) = (skus[0].as_str(), skus[1].as_str());
    let internal = service.client(Who::Internal);
    let admin = service.client(Who::Admin);

    // BatchReserveInventory: invalid input of every kind, then unknown SKUs, then the shortage with its detail.
    let many: Vec<String> = (0..51).map(|_| Uuid::now_v7().to_string()).collect();
    let many: Vec<(&str, i64)> = many.iter().map(|id| (id.as_str(), 1)).collect();
    let long_key = "k".repeat(257);
    for (items, key) in [
        (vec![], "k"),
        (many, "k"),
        (vec![(a, 1), (a, 1)], "k"),
        (vec![(a, 0)], "k"),
        (vec![("not-a-uuid", 1)], "k"),
        (vec![(a, 1)], ""),
        (vec![(a, 1)], long_key.as_str()),
    ] {
        let result = internal.batch_reserve_inventory(reserve(&items, key)).await;
        assert_eq!(code(result), ErrorCode::InvalidArgument, "{items:?} {key:?}");
    }
    let unknown = Uuid::now_v7().to_string();
    assert_eq!(code(internal.batch_reserve_inventory(reserve(&[(&unknown, 1)], "k")).await), ErrorCode::NotFound);
    let short = internal.batch_reserve_inventory(reserve(&[(a, 4), (b, 2)], "k")).await.unwrap_err();
    assert_eq!(short.code, ErrorCode::ResourceExhausted);
    let detail = short.details.iter().find(|d| d.type_url.ends_with("product.v1.InsufficientStockDetail")).unwrap();
    let bytes = base64_decode(detail.value.as_deref().unwrap());
    let detail: InsufficientStockDetail = buffa::Message::decode_from_slice(&bytes).unwrap();
    let mut short_skus: Vec<(String, i64, i64)> =
        detail.items.iter().map(|i| (i.sku_id.clone(), i.requested, i.available)).collect();
    short_skus.sort();
    let mut expected = vec![(a.to_owned(), 4, 3), (b.to_owned(), 2, 1)];
    expected.sort();
    assert_eq!(short_skus, expected, "every short SKU, not just the first");

    // Reservation keys: the same key with other items.
    let first = internal.batch_reserve_inventory(reserve(&[(a, 1)], "order-1")).await.unwrap().into_owned();
    let id = first.reservation.id.clone();
    assert_eq!(code(internal.batch_reserve_inventory(reserve(&[(a, 2)], "order-1")).await), ErrorCode::AlreadyExists);

    // Confirm, release, get.
    let confirm = |id: &str, key: &str| ConfirmReservationRequest {
        reservation_id: id.into(),
        idempotency_key: key.into(),
        ..Default::default()
    };
    let release = |id: &str, key: &str| ReleaseReservationRequest {
        reservation_id: id.into(),
        idempotency_key: key.into(),
        ..Default::default()
    };
    assert_eq!(code(internal.confirm_reservation(confirm("nope", "c")).await), ErrorCode::InvalidArgument);
    assert_eq!(code(internal.confirm_reservation(confirm(&id, "")).await), ErrorCode::InvalidArgument);
    assert_eq!(code(internal.confirm_reservation(confirm(&unknown, "c")).await), ErrorCode::NotFound);
    let confirmed = internal.confirm_reservation(confirm(&id, "order-1:confirm")).await.unwrap().into_owned();
    assert_eq!(confirmed.reservation.status, ReservationStatus::RESERVATION_STATUS_CONFIRMED);
    assert_eq!(
        code(internal.release_reservation(release(&id, "order-1:release")).await),
        ErrorCode::FailedPrecondition
    );
    assert_eq!(code(internal.release_reservation(release(&unknown, "r")).await), ErrorCode::NotFound);
    let get_reservation = |id: &str| GetReservationRequest { id: id.into(), ..Default::default() };
    assert_eq!(code(internal.get_reservation(get_reservation("nope")).await), ErrorCode::InvalidArgument);
    assert_eq!(code(internal.get_reservation(get_reservation(&unknown)).await), ErrorCode::NotFound);

    // Stock administration.
    assert_eq!(code(admin.get_inventory(get("nope")).await), ErrorCode::InvalidArgument);
    assert_eq!(code(admin.get_inventory(get(&unknown)).await), ErrorCode::NotFound);
    let stock = admin.get_inventory(get(a)).await.unwrap().into_owned().inventory;
    let update = |quantity: i64, version: i64| UpdateInventoryRequest {
        sku_id: a.into(),
        quantity,
        version,
        ..Default::default()
    };
    assert_eq!(code(admin.update_inventory(update(-1, stock.version)).await), ErrorCode::InvalidArgument);
    assert_eq!(code(admin.update_inventory(update(5, stock.version + 7)).await), ErrorCode::Aborted);
    let updated = admin.update_inventory(update(5, stock.version)).await.unwrap().into_owned().inventory;
    assert_eq!((updated.quantity, updated.available, updated.version), (5, 5, stock.version + 1));
    let adjust = |delta: i64| AdjustInventoryRequest {
        sku_id: a.into(),
        delta,
        reason: "stocktake".into(),
        ..Default::default()
    };
    assert_eq!(code(admin.adjust_inventory(adjust(0)).await), ErrorCode::InvalidArgument);
    internal.batch_reserve_inventory(reserve(&[(a, 2)], "order-2")).await.unwrap();
    assert_eq!(code(admin.adjust_inventory(adjust(-4)).await), ErrorCode::FailedPrecondition);
    // Holding stock is a change too: the version moved on.
    assert_eq!(code(admin.update_inventory(update(1, updated.version)).await), ErrorCode::Aborted);
    let current = admin.get_inventory(get(a)).await.unwrap().into_owned().inventory.version;
    assert_eq!(code(admin.update_inventory(update(1, current)).await), ErrorCode::FailedPrecondition);
    let adjusted = admin.adjust_inventory(adjust(-3)).await.unwrap().into_owned().inventory;
    assert_eq!((adjusted.quantity, adjusted.reserved, adjusted.available), (2, 2, 0));
    service.stop().await;
}

#[tokio::test]
async fn the_running_service_expires_reservations_whose_time_is_up() {
    let service = Service::start().await;
    let sku = service.skus(&[4]).await.remove(0);
    let internal = service.client(Who::Internal);
    let reservation = internal.batch_reserve_inventory(reserve(&[(&sku, 3)], "late")).await.unwrap().into_owned();
    let id = reservation.reservation.id.clone();
    sqlx::query("UPDATE product_service.reservations SET expires_at = now() WHERE id = $1::uuid")
        .bind(&id)
        .execute(&service.database.pool)
        .await
        .unwrap();
    let request = GetReservationRequest { id: id.clone(), ..Default::default() };
    // The worker runs every second.
    ec_testing::eventually("the reservation to expire", Duration::from_secs(5), || async {
        let status = internal.get_reservation(request.clone()).await.unwrap().into_owned().reservation.status;
        if status == ReservationStatus::RESERVATION_STATUS_EXPIRED { Ok(()) } else { Err(ec_testing::Seen(status)) }
    })
    .await;
    let stock = service.client(Who::Admin).get_inventory(get(&sku)).await.unwrap().into_owned().inventory;
    assert_eq!((stock.reserved, stock.available), (0, 4));
    service.stop().await;
}

fn base64_decode(value: &str) -> Vec<u8> {
    use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD};
    STANDARD_NO_PAD.decode(value.trim_end_matches('=')).unwrap()
}

#[tokio::test]
async fn low_stock_lists_the_skus_for_sale_running_out_sold_out_first_for_admins_only() {
    let service = Service::start().await;
    // The default threshold is 5: 0 and 3 are running out, 5 is at the threshold, 6 and 40 are not; a hidden
    // product's empty SKU is not for sale, and a reservation counts against what is left.
    let skus = service.skus(&[6, 0, 3, 40, 5]).await;
    let hidden = service.skus(&[0]).await.remove(0);
    sqlx::query("UPDATE product_service.products SET status = 'hidden' WHERE id = (SELECT product_id FROM product_service.skus WHERE id = $1)")
        .bind(Uuid::parse_str(&hidden).unwrap())
        .execute(&service.database.pool)
        .await
        .unwrap();
    let platform = service.client(Who::Internal);
    platform.batch_reserve_inventory(reserve(&[(&skus[0], 2)], "low")).await.unwrap();

    let admin = service.client(Who::Admin);
    let all = admin.list_low_stock(ListLowStockRequest::default()).await.unwrap().into_owned();
    let listed: Vec<(&str, i64)> = all.skus.iter().map(|s| (s.sku_id.as_str(), s.available)).collect();
    assert_eq!(listed, [(skus[1].as_str(), 0), (skus[2].as_str(), 3), (skus[0].as_str(), 4), (skus[4].as_str(), 5)]);
    assert_eq!((all.threshold, all.sold_out_count, all.low_count), (5, 1, 3));
    assert_eq!(all.skus[0].product_name, "Mug");
    assert!(all.skus[0].sku_code.starts_with("MUG-"));

    let two = admin.list_low_stock(ListLowStockRequest { limit: 2, ..Default::default() }).await.unwrap().into_owned();
    assert_eq!(two.skus.len(), 2);
    assert_eq!((two.sold_out_count, two.low_count), (1, 3), "the counts are of all, not of the page");

    for limit in [-1, 101] {
        let request = ListLowStockRequest { limit, ..Default::default() };
        assert_eq!(code(admin.list_low_stock(request).await), ErrorCode::InvalidArgument, "{limit}");
    }
    let request = ListLowStockRequest::default();
    assert_eq!(code(service.client(Who::Customer).list_low_stock(request.clone()).await), ErrorCode::PermissionDenied);
    assert_eq!(code(service.client(Who::Nobody).list_low_stock(request).await), ErrorCode::Unauthenticated);

    service.stop().await;
}
