//! What the shop writes to its customers, through a real SMTP server (aiosmtpd): a confirmation, a cancellation
//! and a shipping message for orders placed through the BFF, in each customer's language, each sent once; a
//! message the server defers is sent when it takes it; one it refuses is recorded and not tried again; the
//! password-reset and email-verification links, followed from the message that arrived.

use std::time::Duration;

use ec_e2e::{
    TestPlatform, browser,
    clients::{self, Wire},
};
use ec_product::{
    catalog,
    domain::{Actor, Attributes, Description, Price, ProductName, SkuCode},
};
use ec_proto::order::v1::{
    AddCartItemRequest, Address, CancelOrderRequest, CartServiceClient, CreateOrderRequest, Order, OrderServiceClient,
    ShipOrderRequest,
};
use ec_testing::{
    eventually,
    smtp::{Received, SmtpServer},
};
use serde_json::json;

/// The claims of JWT `token`, read without checking it (the BFF checks it).
fn claims_of(token: &str) -> serde_json::Value {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Whether `mail` is the verification link every sign-up is sent.
fn is_verification(mail: &Received) -> bool {
    mail.text().contains("/oauth2/email/verify?token=")
}

/// The messages received that are not verification links, once at least `count` of them arrived.
async fn wait_for_others(smtp: &SmtpServer, count: usize) -> Vec<Received> {
    eventually(format!("{count} messages besides verification links"), Duration::from_secs(30), || {
        let others: Vec<Received> = smtp.received().into_iter().filter(|m| !is_verification(m)).collect();
        async move { if others.len() >= count { Ok(others) } else { Err(format!("{} arrived", others.len())) } }
    })
    .await
}

/// The first message to `address`, once it arrived.
async fn mail_to(smtp: &SmtpServer, address: &str) -> Received {
    eventually(format!("a message to {address}"), Duration::from_secs(30), || {
        let found = smtp.received().into_iter().find(|m| m.to == [address]);
        async move { found.ok_or("none yet") }
    })
    .await
}

/// The path and query of the first link in `mail`'s text containing `path`.
fn link_in(mail: &Received, path: &str) -> String {
    let link = mail.text().split_whitespace().find(|word| word.contains(path)).expect("the message has the link");
    link[link.find("/oauth2/").unwrap()..].to_owned()
}

/// A published SKU at ¥2,400 with plenty of stock.
async fn a_sku(platform: &TestPlatform) -> String {
    let pool = &platform.database.pool;
    let name = ProductName::parse("Sencha").unwrap();
    let product = catalog::create_product(pool, &name, &Description::parse("").unwrap(), None).await.unwrap();
    let code = SkuCode::parse("SENCHA-100G").unwrap();
    let price = Price::parse(2400, "JPY").unwrap();
    let sku = catalog::create_sku(pool, &Actor("setup".into()), product.id, &code, &price, &Attributes::default(), 50)
        .await
        .unwrap();
    catalog::publish(pool, &ec_product::events::outbox(), product.id).await.unwrap();
    sku.id.to_string()
}

/// Signs `email` up in `language` and in; the access token.
async fn shopper(platform: &TestPlatform, email: &str, name: &str, language: &str) -> String {
    let body = serde_json::json!({"email": email, "password": "correct horse", "name": name, "language": language});
    let (status, answer) = platform.call("/user.v1.UserService/CreateUser", None, &body).await;
    assert_eq!(status, 200, "{answer}");
    // Stored as the language the shop writes in: "ja" or "en".
    assert_eq!(answer["user"]["language"], language.split('-').next().unwrap());
    let tokens = browser::sign_in(platform, email, "correct horse").await;
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// `token`'s holder buys one unit of `sku`.
async fn buy(platform: &TestPlatform, token: &str, sku: &str) -> Order {
    let (http, config) = clients::transport_as(&platform.bff_url(), Wire::Grpc, Some(token));
    let add = AddCartItemRequest { sku_id: sku.into(), quantity: 1, ..Default::default() };
    CartServiceClient::new(http.clone(), config.clone()).add_cart_item(add).await.unwrap();
    let checkout = CreateOrderRequest {
        idempotency_key: uuid::Uuid::now_v7().to_string(),
        shipping_address: buffa::MessageField::some(Address {
            recipient_name: "Hanako Yamada".into(),
            line1: "1-2-3 Jingumae".into(),
            city: "Tokyo".into(),
            postal_code: "150-0001".into(),
            country_code: "JP".into(),
            ..Default::default()
        }),
        payment_token: "4242424242424242".into(),
        ..Default::default()
    };
    let order = OrderServiceClient::new(http, config).create_order(checkout).await.unwrap();
    order.into_owned().order.into_option().unwrap()
}

fn orders(platform: &TestPlatform, token: &str) -> OrderServiceClient<connectrpc::client::HttpClient> {
    let (http, config) = clients::transport_as(&platform.bff_url(), Wire::Grpc, Some(token));
    OrderServiceClient::new(http, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_written_to_in_their_language_once_per_order_event_through_a_real_smtp_server() {
    let smtp = SmtpServer::start().await;
    let platform = TestPlatform::start_with(|config| {
        config.user.mail.smtp_url = Some(smtp.url.clone());
        config.user.mail.from = "Tea Shop <orders@tea.example>".into();
        config.user.mail.shop_name = "Tea Shop".into();
        config.user.mail.storefront_url = "https://tea.example/".parse().unwrap();
    })
    .await;
    let sku = a_sku(&platform).await;
    let hanako = shopper(&platform, "hanako@example.com", "花子", "ja").await;
    let taro = shopper(&platform, "taro@example.com", "Taro", "en-GB").await;
    let admin = platform.access_token("owner@example.com", true).await;

    // Hanako orders and cancels; Taro orders and the shop ships it.
    let hanakos = buy(&platform, &hanako, &sku).await;
    let cancel =
        CancelOrderRequest { id: hanakos.id.clone(), reason: "間違えました".into(), ..Default::default() };
    orders(&platform, &hanako).cancel_order(cancel).await.unwrap();
    let taros = buy(&platform, &taro, &sku).await;
    let ship = ShipOrderRequest { id: taros.id.clone(), tracking_number: "JP123456789".into(), ..Default::default() };
    orders(&platform, &admin).ship_order(ship).await.unwrap();

    let received = wait_for_others(&smtp, 4).await;
    let to = |who: &str| -> Vec<_> { received.iter().filter(|m| m.to == [who]).cloned().collect() };
    let (for_hanako, for_taro) = (to("hanako@example.com"), to("taro@example.com"));
    assert_eq!((for_hanako.len(), for_taro.len()), (2, 2), "{received:#?}");
    for mail in &received {
        assert_eq!(mail.header("From"), Some("Tea Shop <orders@tea.example>"), "{}", mail.raw);
        assert!(mail.header("Message-ID").is_some_and(|id| id.ends_with("@tea.example>")), "{}", mail.raw);
        assert!(!mail.text().is_empty() && mail.html().contains("<html"), "{}", mail.raw);
    }
    // Hanako's, in Japanese: the order's total (¥2,400 and ¥500 shipping) and its page.
    let confirmed =
        for_hanako.iter().find(|m| m.text().contains("ご注文ありがとうございます")).expect("a confirmation");
    assert!(confirmed.header("Subject").is_some_and(|s| s.starts_with("ご注文を承りました")), "{confirmed:?}");
    for part in ["花子 様", "¥2,900", format!("https://tea.example/orders/{}", hanakos.id).as_str()] {
        assert!(confirmed.text().contains(part) && confirmed.html().contains(part), "{part} missing: {confirmed:?}");
    }
    assert_eq!(hanakos.total.as_option().map(|m| m.amount), Some(2900));
    let cancelled =
        for_hanako.iter().find(|m| m.text().contains("ご注文をキャンセルしました")).expect("a cancellation");
    assert!(cancelled.text().contains("間違えました"), "{cancelled:?}");
    // Taro's, in English, with the tracking number.
    assert!(for_taro.iter().any(|m| m.text().contains("Thank you for your order")), "{for_taro:#?}");
    let shipped = for_taro.iter().find(|m| m.text().contains("Your order is on its way")).expect("a shipping message");
    assert!(shipped.text().contains("JP123456789") && shipped.text().contains("Hello Taro,"), "{shipped:?}");

    // Nothing is sent twice: the queue holds one row per event, each sent.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.received().iter().filter(|m| !is_verification(m)).count(), 4);
    let sent: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, status FROM user_service.mails WHERE kind LIKE 'order_%' ORDER BY kind, id")
            .fetch_all(&platform.database.pool)
            .await
            .unwrap();
    let kinds: Vec<&str> = sent.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["order_cancelled", "order_confirmed", "order_confirmed", "order_shipped"]);
    assert!(sent.iter().all(|(_, status)| status == "sent"), "{sent:?}");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_message_is_sent_when_the_server_takes_it_and_a_refused_one_is_not_tried_again() {
    let smtp = SmtpServer::start().await;
    let platform = TestPlatform::start_with(|config| {
        config.user.mail.smtp_url = Some(smtp.url.clone());
        config.user.mail.first_retry_secs = 1;
    })
    .await;
    let sku = a_sku(&platform).await;
    // The server answers 451 to each message to "later..." twice, and 550 to "refused..." always.
    let later = shopper(&platform, "later@example.com", "Later", "en").await;
    let refused = shopper(&platform, "refused@example.com", "Refused", "en").await;
    buy(&platform, &later, &sku).await;
    buy(&platform, &refused, &sku).await;

    let pool = platform.database.pool.clone();
    let state = |email: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (String, i32, Option<String>)>(
                "SELECT status, attempts, last_error FROM user_service.mails
                 WHERE to_address = $1 AND kind = 'order_confirmed'",
            )
            .bind(email)
            .fetch_optional(&pool)
            .await
            .unwrap()
        }
    };
    eventually("the deferred message to be sent", Duration::from_secs(30), || async {
        match state("later@example.com").await {
            Some((status, attempts, _)) if status == "sent" => Ok(attempts),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let (status, attempts, error) = state("refused@example.com").await.expect("the refused message is kept");
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    assert!(error.unwrap_or_default().contains("No such mailbox"));
    let (_, attempts, _) = state("later@example.com").await.unwrap();
    assert_eq!(attempts, 3, "deferred twice, then sent");
    let received: Vec<Received> = smtp.received().into_iter().filter(|m| !is_verification(m)).collect();
    assert_eq!(received.len(), 1, "only the deferred one arrived, once");
    assert_eq!(received[0].to, ["later@example.com"]);
    platform.stop().await;
}

/// The value of the hidden `csrf_token` field of the form in `page`.
fn csrf_token(page: &str) -> String {
    let field = page.split("name=\"csrf_token\" value=\"").nth(1).expect("the page has a form");
    field.split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_once_from_the_mailed_link_and_signs_the_account_out() {
    let smtp = SmtpServer::start().await;
    let platform = TestPlatform::start_with(|config| config.user.mail.smtp_url = Some(smtp.url.clone())).await;
    let token = shopper(&platform, "hanako@example.com", "花子", "ja").await;
    let login = platform.login_url();
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // The sign-in page links to the form.
    let ask = |email: &'static str| {
        let (browser, login) = (browser.clone(), login.clone());
        async move {
            let page =
                browser.get(format!("{login}/oauth2/password/forgot")).send().await.unwrap().text().await.unwrap();
            let form = [("csrf_token", csrf_token(&page)), ("email", email.to_owned())];
            let answer = browser.post(format!("{login}/oauth2/password/forgot")).form(&form).send().await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    // The same answer for an address without an account: nobody learns who is a customer.
    let (status, for_nobody) = ask("nobody@example.com").await;
    let (_, for_hanako) = ask("hanako@example.com").await;
    assert_eq!((status, &for_nobody), (200, &for_hanako));
    assert!(for_hanako.contains("Check your email"), "{for_hanako}");
    // A form without its CSRF token is refused.
    let forged = browser.post(format!("{login}/oauth2/password/forgot")).form(&[("email", "hanako@example.com")]);
    assert_eq!(forged.send().await.unwrap().status().as_u16(), 403);

    // One message, to Hanako, in Japanese, with a link to the reset page.
    let mail = wait_for_others(&smtp, 1).await.remove(0);
    assert_eq!(mail.to, ["hanako@example.com"]);
    assert!(mail.text().contains("パスワードの再設定"), "{mail:?}");
    let path = &link_in(&mail, "/oauth2/password/reset?token=");

    let page = browser.get(format!("{login}{path}")).send().await.unwrap().text().await.unwrap();
    let form_token = path.split("token=").nth(1).unwrap().to_owned();
    let reset = |csrf: String, password: &'static str, confirm: &'static str| {
        let form = [
            ("csrf_token", csrf),
            ("token", form_token.clone()),
            ("password", password.into()),
            ("confirm", confirm.into()),
        ];
        browser.post(format!("{login}/oauth2/password/reset")).form(&form).send()
    };
    // Two passwords that differ are asked again without spending the link.
    let differ = reset(csrf_token(&page), "a new long password", "another one").await.unwrap();
    assert_eq!(differ.status().as_u16(), 400);
    let page = differ.text().await.unwrap();
    assert!(page.contains("The two passwords differ."), "{page}");
    let done = reset(csrf_token(&page), "a new long password", "a new long password").await.unwrap();
    assert_eq!(done.status().as_u16(), 200);
    assert!(done.text().await.unwrap().contains("Your password is changed"));

    // Used once: the link works no more.
    let again = browser.get(format!("{login}{path}")).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 410);
    // The old password is refused and the new one signs in; the token from before is revoked.
    let pool = &platform.database.pool;
    let old = ec_user::accounts::verify_password(pool, "hanako@example.com", "correct horse".into()).await;
    assert!(old.is_err(), "the old password still works");
    let new = ec_user::accounts::verify_password(pool, "hanako@example.com", "a new long password".into()).await;
    assert!(new.is_ok(), "the new password does not work: {new:?}");
    let (http, config) = clients::transport_as(&platform.bff_url(), Wire::Grpc, Some(&token));
    let refused = OrderServiceClient::new(http, config).list_orders(Default::default()).await.unwrap_err();
    assert_eq!(refused.code, connectrpc::ErrorCode::Unauthenticated, "the access token from before is revoked");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_verified_by_the_link_mailed_at_sign_up_and_again_after_it_changes() {
    let smtp = SmtpServer::start().await;
    let platform = TestPlatform::start_with(|config| config.user.mail.smtp_url = Some(smtp.url.clone())).await;
    let token = shopper(&platform, "taro@example.com", "Taro", "en").await;
    let pool = platform.database.pool.clone();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = platform.login_url();
    let open = |path: String| {
        let (browser, login) = (browser.clone(), login.clone());
        async move {
            let answer = browser.get(format!("{login}{path}")).send().await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    let account = |token: String| {
        let platform = &platform;
        async move {
            let claims = claims_of(&token);
            let id = claims["sub"].as_str().unwrap().to_owned();
            let (status, answer) =
                platform.call("/user.v1.UserService/GetUser", Some(&token), &json!({"id": id})).await;
            assert_eq!(status, 200, "{answer}");
            answer["user"].clone()
        }
    };
    let before = account(token.clone()).await;
    assert_eq!(before["emailVerified"], json!(null), "false is left out of JSON: {before}");
    let id = before["id"].as_str().unwrap().to_owned();

    // The sign-up's link arrives, in English; an admin cannot be made of the account yet.
    let mail = mail_to(&smtp, "taro@example.com").await;
    assert!(is_verification(&mail), "{mail:?}");
    assert!(mail.header("Subject").is_some_and(|s| s.starts_with("Confirm your email address")), "{mail:?}");
    let admin = platform.access_token("owner@example.com", true).await;
    sqlx::query("UPDATE user_service.users SET email_verified_at = now() WHERE email = 'owner@example.com'")
        .execute(&pool)
        .await
        .unwrap();
    let promote = json!({"id": id, "role": "ROLE_ADMIN", "granted": true});
    let (status, refused) = platform.call("/user.v1.UserService/SetUserRole", Some(&admin), &promote).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("failed_precondition")), "{refused}");
    // Asking again so soon is refused with when to ask.
    let resend = json!({"id": id});
    let too_soon = platform.post("/user.v1.UserService/SendVerificationEmail").bearer_auth(&token).json(&resend);
    let too_soon = too_soon.send().await.unwrap();
    assert_eq!(too_soon.status().as_u16(), 429);
    assert!(too_soon.headers().get("retry-after").is_some());
    // Nobody else may ask for the account.
    let stranger = platform.access_token("stranger@example.com", false).await;
    let (status, _) = platform.call("/user.v1.UserService/SendVerificationEmail", Some(&stranger), &resend).await;
    assert_eq!(status, 403);

    // A minute on, five requests at once send one link, which ends the first.
    sqlx::query("UPDATE user_service.email_verifications SET created_at = now() - interval '2 minutes'")
        .execute(&pool)
        .await
        .unwrap();
    let asks = (0..5).map(|_| platform.call("/user.v1.UserService/SendVerificationEmail", Some(&token), &resend));
    let mut statuses: Vec<u16> = futures::future::join_all(asks).await.into_iter().map(|(status, _)| status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 429, 429, 429, 429]);
    let first = link_in(&mail, "/oauth2/email/verify?token=");
    let mail =
        eventually("the link sent again", Duration::from_secs(30), || {
            let to_taro: Vec<Received> = smtp.received().into_iter().filter(|m| m.to == ["taro@example.com"]).collect();
            async move {
                if to_taro.len() == 2 { Ok(to_taro[1].clone()) } else { Err(format!("{} arrived", to_taro.len())) }
            }
        })
        .await;

    // A made-up or mangled token does nothing, nor does a link a newer one ended.
    assert_eq!(open("/oauth2/email/verify?token=made-up".into()).await.0, 410);
    assert_eq!(open("/oauth2/email/verify".into()).await.0, 410);
    assert_eq!(open(first).await.0, 410);
    let path = link_in(&mail, "/oauth2/email/verify?token=");
    let (status, page) = open(path.clone()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("taro@example.com is confirmed"), "{page}");
    assert_eq!(account(token.clone()).await["emailVerified"], true);
    assert_eq!(open(path).await.0, 410, "a link works once");
    // Tokens issued from now on say so; the announcement is in the outbox's stream.
    let fresh = browser::sign_in(&platform, "taro@example.com", "correct horse").await;
    let claims = claims_of(fresh["access_token"].as_str().unwrap());
    assert_eq!(claims["ext"]["email_verified"], true, "{claims}");
    let (status, answer) = platform.call("/user.v1.UserService/SendVerificationEmail", Some(&token), &resend).await;
    assert_eq!((status, answer["code"].as_str()), (400, Some("failed_precondition")), "verified already: {answer}");
    let (status, promoted) = platform.call("/user.v1.UserService/SetUserRole", Some(&admin), &promote).await;
    assert_eq!(status, 200, "{promoted}");

    // A new address is unverified until its own link is followed; a change of letter case is no change.
    let change = |email: &str| json!({"id": id, "email": email, "currentPassword": "correct horse"});
    let (status, same) =
        platform.call("/user.v1.UserService/UpdateUser", Some(&token), &change("Taro@Example.com")).await;
    assert_eq!((status, &same["user"]["emailVerified"]), (200, &json!(true)), "{same}");
    let (status, moved) =
        platform.call("/user.v1.UserService/UpdateUser", Some(&token), &change("taro@new.example")).await;
    assert_eq!((status, &moved["user"]["emailVerified"]), (200, &json!(null)), "{moved}");
    let mail = &mail_to(&smtp, "taro@new.example").await;
    assert!(is_verification(mail), "{mail:#?}");
    // The address changes again before the link is followed: the link is for an address the account no longer
    // has, and the newest address gets its own.
    let (status, _) =
        platform.call("/user.v1.UserService/UpdateUser", Some(&token), &change("taro@newer.example")).await;
    assert_eq!(status, 200);
    assert_eq!(open(link_in(mail, "/oauth2/email/verify?token=")).await.0, 410);
    let mail = &mail_to(&smtp, "taro@newer.example").await;
    assert_eq!(open(link_in(mail, "/oauth2/email/verify?token=")).await.0, 200);
    assert_eq!(account(token.clone()).await["emailVerified"], true);
    let events: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM user_service.mails WHERE user_id = $1::uuid ORDER BY created_at")
            .bind(&id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        events, ["email_verification"; 4],
        "one link per sign-up, asking again and new address; none for the case change"
    );
    platform.stop().await;
}
