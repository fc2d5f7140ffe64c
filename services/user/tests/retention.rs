//! Retention against a real PostgreSQL: what is past its time goes, what is still of use stays.

use ec_platform::config::DatabaseArgs;
use ec_testing::TestDatabase;
use uuid::Uuid;

#[tokio::test]
async fn old_messages_links_and_deliveries_go_and_pending_or_recent_ones_stay() {
    let database = TestDatabase::create().await;
    let args = DatabaseArgs { url: database.url(), max_connections: 2 };
    let pool = ec_platform::startup::database(&args, ec_user::SCHEMA, ec_user::migrator()).await.unwrap();
    let user = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO user_service.users (id, email, email_normalized, password_hash) VALUES ($1, 'a@example.com', 'a@example.com', 'x')",
    )
    .bind(user)
    .execute(&pool)
    .await
    .unwrap();
    let endpoint = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO user_service.webhook_endpoints (id, url, secret) VALUES ($1, 'https://1.1.1.1/', 'whsec_x')",
    )
    .bind(endpoint)
    .execute(&pool)
    .await
    .unwrap();
    // (age in days, state) of each row; the name says whether it must stay.
    let mails = [
        ("old sent", 91, "sent"),
        ("old failed", 91, "failed"),
        ("old pending: stays", 91, "pending"),
        ("recent sent: stays", 10, "sent"),
    ];
    for (subject, days, status) in mails {
        sqlx::query(
            "INSERT INTO user_service.mails
                 (id, event_id, kind, to_address, subject, text_body, html_body, status, next_attempt_at, created_at)
             VALUES ($1, $1, 'order_confirmed', 'a@example.com', $2, '', '', $3,
                     CASE WHEN $3 = 'pending' THEN now() END, now() - make_interval(days => $4))",
        )
        .bind(Uuid::now_v7())
        .bind(subject)
        .bind(status)
        .bind(days)
        .execute(&pool)
        .await
        .unwrap();
    }
    for table in ["password_resets", "email_verifications"] {
        let extra = if table == "email_verifications" { ", email" } else { "" };
        let extra_value = if table == "email_verifications" { ", 'a@example.com'" } else { "" };
        // Used 8 days ago: goes. Open and unexpired, made 8 days ago (a long-lived link): stays. Used yesterday: stays.
        for (days, used, expires_in_days) in [(8, true, -7), (8, false, 1), (1, true, 1)] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO user_service.{table} (id, user_id, token_hash, created_at, expires_at, used_at{extra})
                 VALUES ($1, $2, $3, now() - make_interval(days => $4), now() + make_interval(days => $5),
                         CASE WHEN $6 THEN now() - make_interval(days => $4) END{extra_value})"
            )))
            .bind(Uuid::now_v7())
            .bind(user)
            .bind(Uuid::now_v7().as_bytes().repeat(2))
            .bind(days)
            .bind(expires_in_days)
            .bind(used)
            .execute(&pool)
            .await
            .unwrap();
        }
    }
    for (days, status) in [(31, "succeeded"), (31, "failed"), (31, "pending"), (2, "succeeded")] {
        sqlx::query(
            "INSERT INTO user_service.webhook_deliveries (id, endpoint_id, event_id, event_type, payload, status, created_at)
             VALUES ($1, $2, $1, 'order.v1.confirmed', '{}', $3, now() - make_interval(days => $4))",
        )
        .bind(Uuid::now_v7())
        .bind(endpoint)
        .bind(status)
        .bind(days)
        .execute(&pool)
        .await
        .unwrap();
    }

    assert_eq!(ec_user::retention::purge(&pool).await.unwrap(), 2 + 1 + 1 + 2);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT subject FROM user_service.mails ORDER BY subject").fetch_all(&pool).await.unwrap();
    assert_eq!(left, ["old pending: stays", "recent sent: stays"]);
    for table in ["password_resets", "email_verifications"] {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM user_service.{table}")))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 2, "{table}");
    }
    let deliveries: Vec<String> =
        sqlx::query_scalar("SELECT status FROM user_service.webhook_deliveries ORDER BY status")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(deliveries, ["pending", "succeeded"]);
    assert_eq!(ec_user::retention::purge(&pool).await.unwrap(), 0, "a second purge finds nothing");
    pool.close().await;
    database.drop_now().await;
}
