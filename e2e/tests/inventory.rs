//! Stock administration through the BFF, with tokens from the real sign-in flow, in every protocol a client
//! can speak: admins read, count and adjust stock; customers and anonymous callers are refused at the BFF
//! (BFLA); the reservation RPCs are not reachable at all.

use connectrpc::ErrorCode;
use ec_e2e::{
    TestPlatform,
    clients::{self, Wire},
};
use ec_product::{
    catalog,
    domain::{Actor, Attributes, Description, Price, ProductName, SkuCode},
};
use ec_proto::product::v1::{
    AdjustInventoryRequest, GetInventoryRequest, InventoryServiceClient, UpdateInventoryRequest,
};
use uuid::Uuid;

async fn a_sku(platform: &TestPlatform, stock: i64) -> String {
    let pool = &platform.database.pool;
    let name = ProductName::parse("Teapot").unwrap();
    let product = catalog::create_product(pool, &name, &Description::parse("").unwrap(), None).await.unwrap();
    let code = SkuCode::parse(&format!("TEA-{}", Uuid::now_v7().simple())).unwrap();
    let price = Price::parse(4200, "JPY").unwrap();
    let actor = Actor("setup".into());
    let sku =
        catalog::create_sku(pool, &actor, product.id, &code, &price, &Attributes::default(), stock).await.unwrap();
    sku.id.to_string()
}

fn inventory(
    platform: &TestPlatform,
    wire: Wire,
    token: Option<&str>,
) -> InventoryServiceClient<connectrpc::client::HttpClient> {
    let (http, config) = clients::transport_as(&platform.bff_url(), wire, token);
    InventoryServiceClient::new(http, config)
}

#[tokio::test]
async fn admins_manage_stock_through_the_bff_in_every_protocol_and_nobody_else_does() {
    let platform = TestPlatform::start().await;
    let sku = a_sku(&platform, 10).await;
    let customer = platform.access_token("shopper@example.com", false).await;
    let admin = platform.access_token("owner@example.com", true).await;
    let get = || GetInventoryRequest { sku_id: sku.clone(), ..Default::default() };

    // Each protocol's round leaves one unit more than it found: 10, 11, 12, 13.
    for (expected_quantity, wire) in (10..).zip(Wire::ALL) {
        let anonymous = inventory(&platform, wire, None).get_inventory(get()).await;
        assert_eq!(anonymous.unwrap_err().code, ErrorCode::Unauthenticated, "{wire:?}");
        let as_customer = inventory(&platform, wire, Some(&customer));
        assert_eq!(as_customer.get_inventory(get()).await.unwrap_err().code, ErrorCode::PermissionDenied, "{wire:?}");
        let adjust =
            AdjustInventoryRequest { sku_id: sku.clone(), delta: 5, reason: "delivery".into(), ..Default::default() };
        let refused = as_customer.adjust_inventory(adjust.clone()).await;
        assert_eq!(refused.unwrap_err().code, ErrorCode::PermissionDenied, "{wire:?}");

        let as_admin = inventory(&platform, wire, Some(&admin));
        let stock = as_admin.get_inventory(get()).await.unwrap().into_owned().inventory;
        assert_eq!(stock.quantity, expected_quantity, "{wire:?}: the refused adjustment changed nothing");
        let adjusted = as_admin.adjust_inventory(adjust).await.unwrap().into_owned().inventory;
        assert_eq!(adjusted.quantity, expected_quantity + 5, "{wire:?}");
        let count = UpdateInventoryRequest {
            sku_id: sku.clone(),
            quantity: expected_quantity + 1,
            version: adjusted.version,
            ..Default::default()
        };
        let counted = as_admin.update_inventory(count.clone()).await.unwrap().into_owned().inventory;
        assert_eq!((counted.quantity, counted.available), (expected_quantity + 1, expected_quantity + 1), "{wire:?}");
        assert_eq!(as_admin.update_inventory(count).await.unwrap_err().code, ErrorCode::Aborted, "{wire:?}: stale");
    }

    // Malformed input is refused by the product service and the answer passes through the BFF.
    let malformed = GetInventoryRequest { sku_id: "not-a-uuid".into(), ..Default::default() };
    let answer = inventory(&platform, Wire::ConnectJson, Some(&admin)).get_inventory(malformed).await;
    assert_eq!(answer.unwrap_err().code, ErrorCode::InvalidArgument);
    platform.stop().await;
}
