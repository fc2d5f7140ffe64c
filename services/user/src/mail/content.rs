//! What each message says, in the customer's language, as plain text and HTML.
//!
//! Every message has one shape ([`Message`]: a heading, a greeting, paragraphs, optionally an order's lines,
//! totals and address, a button, a footer), rendered by two templates (`templates/mail/message.txt` and
//! `message.html`, the HTML escaped by askama); what differs per message and language is the words, here.

use askama::Template;
use ec_proto::order::v1 as wire;

use super::Language;

/// A message ready to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Who is writing: the shop's name and where its storefront is.
#[derive(Clone, Debug)]
pub struct Shop {
    pub name: String,
    pub storefront: url::Url,
}

impl Shop {
    /// The storefront's page at `path` (`orders/ID`).
    fn link(&self, path: &str) -> String {
        base(&self.storefront).join(path).map(String::from).unwrap_or_else(|_| self.storefront.to_string())
    }
}

/// The shape of every message.
#[derive(Clone, Debug, Default)]
pub struct Message {
    pub language: &'static str,
    pub shop: String,
    pub heading: String,
    pub greeting: String,
    pub paragraphs: Vec<String>,
    /// An order's lines: what, how many, for how much.
    pub lines: Vec<Row>,
    /// Labels and amounts under the lines.
    pub totals: Vec<(String, String)>,
    /// Where the order goes: a heading and the address's lines.
    pub address: Option<(String, Vec<String>)>,
    pub action: Option<Action>,
    pub footer: String,
}

#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub quantity: i64,
    pub amount: String,
}

/// The one thing the message asks the reader to do, as a link.
#[derive(Clone, Debug)]
pub struct Action {
    pub label: String,
    pub url: String,
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct Text<'a> {
    m: &'a Message,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct Html<'a> {
    m: &'a Message,
}

impl Message {
    /// The message as it is sent, with `subject`.
    pub fn render(&self, subject: String) -> Mail {
        Mail {
            subject,
            text: Text { m: self }.render().expect("the text template renders"),
            html: Html { m: self }.render().expect("the HTML template renders"),
        }
    }
}

/// What happened to an order, for [`order_mail`].
#[derive(Clone, Copy, Debug)]
pub enum OrderNews<'a> {
    Confirmed,
    Cancelled { reason: &'a str },
    Shipped { tracking_number: &'a str },
}

/// The message telling `name` (if the account has one) in `language` about `order`.
pub fn order_mail(
    shop: &Shop,
    language: Language,
    name: Option<&str>,
    order: &wire::PlacedOrder,
    news: OrderNews<'_>,
) -> Mail {
    let number = order_number(&order.order_id);
    let ja = language == Language::Ja;
    let (subject, heading, paragraphs) = match (news, ja) {
        (OrderNews::Confirmed, false) => (
            format!("Your order {number} is confirmed"),
            "Thank you for your order".to_owned(),
            vec!["We have received your order and will write again when it ships.".to_owned()],
        ),
        (OrderNews::Confirmed, true) => (
            format!("ご注文を承りました（{number}）"),
            "ご注文ありがとうございます".to_owned(),
            vec!["ご注文を承りました。発送の際にあらためてお知らせします。".to_owned()],
        ),
        (OrderNews::Cancelled { reason }, false) => (
            format!("Your order {number} is cancelled"),
            "Your order is cancelled".to_owned(),
            [
                "Your order has been cancelled as you asked. Nothing is charged: the amount held on your card is released."
                    .to_owned(),
            ]
            .into_iter()
            .chain((!reason.is_empty()).then(|| format!("Your reason: {reason}")))
            .collect(),
        ),
        (OrderNews::Cancelled { reason }, true) => (
            format!("ご注文をキャンセルしました（{number}）"),
            "ご注文をキャンセルしました".to_owned(),
            ["ご依頼どおりご注文をキャンセルしました。代金は請求されず、カードの与信枠は解放されます。".to_owned()]
                .into_iter()
                .chain((!reason.is_empty()).then(|| format!("キャンセルの理由: {reason}")))
                .collect(),
        ),
        (OrderNews::Shipped { tracking_number }, false) => (
            format!("Your order {number} has shipped"),
            "Your order is on its way".to_owned(),
            vec![format!("We have handed your order to the carrier. Tracking number: {tracking_number}")],
        ),
        (OrderNews::Shipped { tracking_number }, true) => (
            format!("ご注文の商品を発送しました（{number}）"),
            "ご注文の商品を発送しました".to_owned(),
            vec![format!("ご注文の商品を配送業者にお渡ししました。お問い合わせ番号: {tracking_number}")],
        ),
    };
    let money = |m: Option<&ec_proto::product::v1::Money>| {
        m.map(|m| format_money(m.amount, &m.currency_code)).unwrap_or_default()
    };
    let labels = if ja { ["小計", "送料", "合計"] } else { ["Subtotal", "Shipping", "Total"] };
    let address = order.shipping_address.as_option().map(|a| {
        let lines = [&a.recipient_name, &a.line1, &a.line2, &a.city, &a.region, &a.postal_code, &a.country_code]
            .into_iter()
            .filter(|part| !part.is_empty())
            .cloned()
            .collect();
        ((if ja { "お届け先" } else { "Shipping to" }).to_owned(), lines)
    });
    let message = Message {
        language: language.as_str(),
        shop: shop.name.clone(),
        heading,
        greeting: greeting(language, name),
        paragraphs,
        lines: order
            .items
            .iter()
            .map(|item| Row {
                name: format!("{} ({})", item.product_name, item.sku_code),
                quantity: item.quantity,
                amount: money(item.line_total.as_option()),
            })
            .collect(),
        totals: vec![
            (labels[0].to_owned(), money(order.subtotal.as_option())),
            (labels[1].to_owned(), money(order.shipping_fee.as_option())),
            (labels[2].to_owned(), money(order.total.as_option())),
        ],
        address,
        action: Some(Action {
            label: (if ja { "ご注文の詳細を見る" } else { "View your order" }).to_owned(),
            url: shop.link(&format!("orders/{}", order.order_id)),
        }),
        footer: if ja {
            format!("このメールは {} でご注文いただいたお客様にお送りしています。", shop.name)
        } else {
            format!("You receive this message because you ordered from {}.", shop.name)
        },
    };
    message.render(format!("{subject} — {}", shop.name))
}

/// The message with the link (`link`) that lets the account's holder choose a new password.
pub fn password_reset_mail(shop: &Shop, language: Language, name: Option<&str>, link: &str) -> Mail {
    let ja = language == Language::Ja;
    let message = Message {
        language: language.as_str(),
        shop: shop.name.clone(),
        heading: (if ja { "パスワードの再設定" } else { "Choose a new password" }).to_owned(),
        greeting: greeting(language, name),
        paragraphs: if ja {
            vec![
                format!(
                    "{} のアカウントのパスワード再設定を受け付けました。下のリンクから新しいパスワードを設定してください。リンクは1時間、1回だけ使えます。",
                    shop.name
                ),
                "お心当たりがない場合は、このメールを破棄してください。パスワードは変わりません。".to_owned(),
            ]
        } else {
            vec![
                format!(
                    "Someone, hopefully you, asked to reset the password of your {} account. The link below lets you choose a new one; it works once, for an hour.",
                    shop.name
                ),
                "If it was not you, ignore this message: your password stays as it is.".to_owned(),
            ]
        },
        action: Some(Action {
            label: (if ja { "新しいパスワードを設定する" } else { "Choose a new password" }).to_owned(),
            url: link.to_owned(),
        }),
        footer: footer(shop, language),
        ..Message::default()
    };
    let subject = if ja { "パスワードの再設定" } else { "Reset your password" };
    message.render(format!("{subject} — {}", shop.name))
}

/// The link that verifies an account's address: sent at sign-up, after a change of address, and when asked for
/// again.
pub fn verification_mail(shop: &Shop, language: Language, name: Option<&str>, link: &str) -> Mail {
    let ja = language == Language::Ja;
    let message = Message {
        language: language.as_str(),
        shop: shop.name.clone(),
        heading: (if ja { "メールアドレスの確認" } else { "Confirm your email address" }).to_owned(),
        greeting: greeting(language, name),
        paragraphs: if ja {
            vec![
                format!(
                    "{} のアカウントにこのメールアドレスが登録されました。下のリンクを開いて、ご本人のアドレスであることを確認してください。リンクは3日間有効です。",
                    shop.name
                ),
                "お心当たりがない場合は、このメールを破棄してください。".to_owned(),
            ]
        } else {
            vec![
                format!(
                    "This address was given for a {} account. Open the link below to confirm that it is yours; it works for three days.",
                    shop.name
                ),
                "If it was not you, ignore this message.".to_owned(),
            ]
        },
        action: Some(Action {
            label: (if ja { "メールアドレスを確認する" } else { "Confirm my email address" }).to_owned(),
            url: link.to_owned(),
        }),
        footer: footer(shop, language),
        ..Message::default()
    };
    let subject = if ja { "メールアドレスの確認" } else { "Confirm your email address" };
    message.render(format!("{subject} — {}", shop.name))
}

/// Tells an admin that the platform disabled the webhook endpoint at `url`, and why.
pub fn webhook_disabled_mail(shop: &Shop, language: Language, name: Option<&str>, url: &str, reason: &str) -> Mail {
    let ja = language == Language::Ja;
    let message = Message {
        language: language.as_str(),
        shop: shop.name.clone(),
        heading: (if ja { "Webhook を停止しました" } else { "A webhook endpoint was turned off" }).to_owned(),
        greeting: greeting(language, name),
        paragraphs: if ja {
            vec![
                format!("{} は次の Webhook エンドポイントへの送信を停止しました: {url}", shop.name),
                format!("理由: {reason}"),
                "受信側を直してから、管理画面の Webhook ページで有効に戻し、失敗した配信を再送してください。"
                    .to_owned(),
            ]
        } else {
            vec![
                format!("{} stopped sending events to this webhook endpoint: {url}", shop.name),
                format!("Why: {reason}."),
                "Fix the receiver, then enable the endpoint again on the back office's Webhooks page and redeliver what failed."
                    .to_owned(),
            ]
        },
        action: Some(Action {
            label: (if ja { "Webhook の設定を開く" } else { "Open the webhook settings" }).to_owned(),
            url: shop.link("admin/webhooks"),
        }),
        footer: if ja {
            format!("このメールは {} の管理者にお送りしています。", shop.name)
        } else {
            format!("You receive this message as an administrator of {}.", shop.name)
        },
        ..Message::default()
    };
    let subject = if ja { "Webhook を停止しました" } else { "A webhook endpoint was turned off" };
    message.render(format!("{subject} — {}", shop.name))
}

/// Why the reader receives a message about their account.
fn footer(shop: &Shop, language: Language) -> String {
    if language == Language::Ja {
        format!("このメールは {} のアカウントのメールアドレスにお送りしています。", shop.name)
    } else {
        format!("You receive this message because it is the address of a {} account.", shop.name)
    }
}

/// `url` as a base to join paths to: with a trailing slash, so `https://shop.example/tea` keeps `tea`.
pub fn base(url: &url::Url) -> url::Url {
    let mut base = url.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base
}

/// "Hello Hanako," or "Hanako 様".
fn greeting(language: Language, name: Option<&str>) -> String {
    match (language, name.filter(|n| !n.trim().is_empty())) {
        (Language::En, Some(name)) => format!("Hello {name},"),
        (Language::En, None) => "Hello,".to_owned(),
        (Language::Ja, Some(name)) => format!("{name} 様"),
        (Language::Ja, None) => "お客様".to_owned(),
    }
}

/// The short form of an order id people can quote: its last eight characters, upper case.
pub fn order_number(order_id: &str) -> String {
    let simple: String = order_id.chars().filter(|c| *c != '-').collect();
    format!("#{}", simple[simple.len().saturating_sub(8)..].to_ascii_uppercase())
}

/// `amount` minor units of `currency` as people write it: ¥3,000, $12.50.
pub fn format_money(amount: i64, currency: &str) -> String {
    let known = iso_currency::Currency::from_code(currency);
    let exponent = known.and_then(|c| c.exponent()).unwrap_or(2) as u32;
    let symbol = known.map(|c| c.symbol().symbol).unwrap_or_else(|| format!("{currency} "));
    let sign = if amount < 0 { "-" } else { "" };
    let (major, minor) = (amount.unsigned_abs() / 10u64.pow(exponent), amount.unsigned_abs() % 10u64.pow(exponent));
    let digits = major.to_string();
    let mut grouped = String::new();
    for (n, digit) in digits.chars().enumerate() {
        if n > 0 && (digits.len() - n).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match exponent {
        0 => format!("{sign}{symbol}{grouped}"),
        e => format!("{sign}{symbol}{grouped}.{minor:0width$}", width = e as usize),
    }
}

#[cfg(test)]
mod tests {
    use buffa::MessageField;
    use ec_proto::product::v1::Money;

    use super::*;

    #[test]
    fn money_is_written_with_its_symbol_separators_and_minor_units() {
        assert_eq!(format_money(3000, "JPY"), "¥3,000");
        assert_eq!(format_money(1_234_567, "JPY"), "¥1,234,567");
        assert_eq!(format_money(1250, "USD"), "$12.50");
        assert_eq!(format_money(5, "USD"), "$0.05");
        assert_eq!(format_money(-500, "JPY"), "-¥500");
    }

    #[test]
    fn an_order_number_is_the_ids_last_eight_characters() {
        assert_eq!(order_number("0193c1a2-7b3d-7c4e-8f00-1234abcd5678"), "#ABCD5678");
    }

    fn order() -> wire::PlacedOrder {
        let yen = |amount| MessageField::some(Money { amount, currency_code: "JPY".into(), ..Default::default() });
        wire::PlacedOrder {
            order_id: "0193c1a2-7b3d-7c4e-8f00-1234abcd5678".into(),
            items: vec![wire::OrderItem {
                product_name: "Sencha <Premium>".into(),
                sku_code: "SENCHA-100G".into(),
                quantity: 2,
                line_total: yen(3000),
                ..Default::default()
            }],
            subtotal: yen(3000),
            shipping_fee: yen(500),
            total: yen(3500),
            shipping_address: MessageField::some(wire::Address {
                recipient_name: "Hanako Yamada".into(),
                line1: "1-2-3 Jingumae".into(),
                city: "Tokyo".into(),
                postal_code: "150-0001".into(),
                country_code: "JP".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_confirmation_says_what_was_bought_for_how_much_where_to_with_a_link_to_the_order() {
        let shop = Shop { name: "Tea Shop".into(), storefront: "https://tea.example/".parse().unwrap() };
        let mail = order_mail(&shop, Language::En, Some("Hanako"), &order(), OrderNews::Confirmed);
        assert_eq!(mail.subject, "Your order #ABCD5678 is confirmed — Tea Shop");
        for text in [&mail.text, &mail.html] {
            for part in ["Hello Hanako,", "SENCHA-100G", "¥3,000", "¥500", "¥3,500", "Hanako Yamada", "150-0001"] {
                assert!(text.contains(part), "{part} is missing from {text}");
            }
            assert!(text.contains("https://tea.example/orders/0193c1a2-7b3d-7c4e-8f00-1234abcd5678"), "{text}");
        }
        // Plain text as typed; HTML escaped.
        assert!(mail.text.contains("Sencha <Premium>"));
        assert!(mail.html.contains("Sencha &#60;Premium&#62;") || mail.html.contains("Sencha &lt;Premium&gt;"));
        assert!(!mail.html.contains("<Premium>"));
    }

    #[test]
    fn messages_are_written_in_the_customers_language() {
        let shop = Shop { name: "お茶の店".into(), storefront: "https://tea.example/".parse().unwrap() };
        let shipped = OrderNews::Shipped { tracking_number: "JP123" };
        let mail = order_mail(&shop, Language::Ja, Some("花子"), &order(), shipped);
        assert_eq!(mail.subject, "ご注文の商品を発送しました（#ABCD5678） — お茶の店");
        assert!(mail.text.contains("花子 様") && mail.text.contains("お問い合わせ番号: JP123"), "{}", mail.text);
        assert!(mail.html.contains("lang=\"ja\""));
        let cancelled = OrderNews::Cancelled { reason: "" };
        let mail = order_mail(&shop, Language::En, None, &order(), cancelled);
        assert!(mail.text.contains("Hello,") && !mail.text.contains("Your reason"), "{}", mail.text);
    }

    #[test]
    fn a_link_message_carries_its_link_in_both_parts_and_in_the_readers_language() {
        let shop = Shop { name: "Tea <Shop>".into(), storefront: "https://tea.example/".parse().unwrap() };
        let link = "https://login.tea.example/oauth2/email/verify?token=abc&x=1";
        let mail = verification_mail(&shop, Language::En, Some("Taro"), link);
        assert_eq!(mail.subject, "Confirm your email address — Tea <Shop>");
        assert!(mail.text.contains(link) && mail.text.contains("Hello Taro,"), "{}", mail.text);
        assert!(mail.html.contains("token=abc&#38;x=1") && mail.html.contains("Tea &#60;Shop&#62;"), "{}", mail.html);
        let mail = verification_mail(&shop, Language::Ja, None, link);
        assert!(mail.subject.starts_with("メールアドレスの確認") && mail.text.contains("3日間"), "{}", mail.text);
        let reset = password_reset_mail(&shop, Language::Ja, None, link);
        assert!(reset.text.contains(link) && reset.text.contains("1時間"), "{}", reset.text);
    }
}
