//! The pages' words in the storefront's two languages, and which language a page is in.
//!
//! A page speaks, in this order of preference: the language picked with the page's switch or carried by the
//! pages' links to one another (`?lang=`), the
//! one the app asked for (OpenID Connect's `ui_locales` on the authorization request, which the storefront sends
//! in its language), the one this browser used last here (the `ec_lang` cookie), the browser's
//! `Accept-Language`, and English. [`layer`] works it out for every request and keeps it for the handlers
//! ([`language`], [`prefer`]) and the page chrome ([`chrome`]) in a task-local, so errors answered far from
//! the handler (`error.rs`) speak it too; a language that changed is remembered in the cookie.

use std::{cell::Cell, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{Method, Uri, header},
    middleware::Next,
    response::Response,
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use crate::mail::Language;

/// The cookie that remembers the language of this browser's last page here.
const COOKIE: &str = "ec_lang";

/// What every page's header shows: the shop's name, linking to the storefront.
#[derive(Clone, Debug)]
pub struct Site {
    pub shop: String,
    pub storefront: String,
    pub secure_cookies: bool,
}

struct Current {
    language: Cell<Language>,
    /// Whether the page's switch picked it: then the app's `ui_locales` does not override it.
    picked: bool,
    /// The address of a GET page, which the language switch links to in the other language.
    page: Option<Uri>,
    site: Arc<Site>,
}

tokio::task_local! {
    static CURRENT: Current;
}

/// The language of the page being answered (English outside a request, as in unit tests).
pub fn language() -> Language {
    CURRENT.try_with(|current| current.language.get()).unwrap_or_default()
}

/// The words of the page being answered.
pub fn text() -> &'static Text {
    match language() {
        Language::En => &EN,
        Language::Ja => &JA,
    }
}

/// The app asked for these languages (`ui_locales`, space-separated, as on the authorization request): the page
/// speaks the first the shop writes in, unless the page's own switch picked one.
pub fn prefer(ui_locales: &str) {
    let _ = CURRENT.try_with(|current| {
        if let (false, Some(language)) = (current.picked, Language::first_of(ui_locales.split_whitespace())) {
            current.language.set(language);
        }
    });
}

/// What the page frame shows: the words, the shop's name and address, and the same page in the other language.
pub struct Chrome {
    pub t: &'static Text,
    pub shop: String,
    pub storefront: String,
    /// The same page in the other language (GET pages only: a form's answer has nothing to reload).
    pub switch: Option<String>,
}

/// The frame of the page being answered.
pub fn chrome() -> Chrome {
    let t = text();
    CURRENT
        .try_with(|current| Chrome {
            t,
            shop: current.site.shop.clone(),
            storefront: current.site.storefront.clone(),
            switch: current.page.as_ref().map(|page| in_language(page, other(current.language.get()))),
        })
        .unwrap_or_else(|_| Chrome { t, shop: String::new(), storefront: "/".into(), switch: None })
}

fn other(language: Language) -> Language {
    match language {
        Language::En => Language::Ja,
        Language::Ja => Language::En,
    }
}

/// Pages without a language switch: the email-verification link acts on opening (a second visit finds it
/// spent), and the error page's query is anyone's to write.
const NO_SWITCH: [&str; 2] = ["/oauth2/email/verify", "/oauth2/error"];

/// The query parameters a page is shown by; nothing else in a link is carried into the language switch.
const PAGE_PARAMETERS: [&str; 4] = ["login_challenge", "consent_challenge", "logout_challenge", "token"];

/// `page` (a path and query) with `lang` set to `language`, and only its [`PAGE_PARAMETERS`].
fn in_language(page: &Uri, language: Language) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(page.query().unwrap_or("").as_bytes())
        .into_owned()
        .filter(|(name, _)| PAGE_PARAMETERS.contains(&name.as_str()))
        .collect();
    pairs.push(("lang".into(), language.as_str().into()));
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{}?{query}", page.path())
}

/// Works out each request's language (see the module's docs), answers it in that language, and remembers a
/// changed one in the cookie.
pub async fn layer(State(site): State<Arc<Site>>, jar: CookieJar, request: Request, next: Next) -> Response {
    let picked = url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .find(|(name, _)| name == "lang")
        .and_then(|(_, value)| Language::supported(&value));
    let remembered = jar.get(COOKIE).and_then(|c| Language::supported(c.value()));
    let accepted =
        request.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Language::preferred);
    let first = picked.or(remembered).or(accepted).unwrap_or_default();
    // A GET page can be asked for again in the other language, but for those listed in NO_SWITCH.
    let page =
        (request.method() == Method::GET && !NO_SWITCH.contains(&request.uri().path())).then(|| request.uri().clone());
    let secure = site.secure_cookies;
    let current = Current { language: Cell::new(first), picked: picked.is_some(), page, site };
    let (response, spoken) = CURRENT
        .scope(current, async move {
            let response = next.run(request).await;
            (response, language())
        })
        .await;
    if remembered == Some(spoken) {
        return response;
    }
    let cookie = Cookie::build((COOKIE, spoken.as_str()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::days(365))
        .build();
    let mut response = response;
    if let Ok(value) = cookie.to_string().parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Every word the pages show, in one language.
pub struct Text {
    /// The page's `lang`.
    pub tag: &'static str,
    /// The other language: its tag and its name, in itself.
    pub other_tag: &'static str,
    pub other_name: &'static str,
    pub language: &'static str,

    pub email: &'static str,
    pub password: &'static str,
    pub cancel: &'static str,

    pub sign_in: &'static str,
    /// "{client}" is the app's name.
    pub sign_in_to: &'static str,
    pub keep_signed_in: &'static str,
    pub forgot_link: &'static str,
    pub new_here: &'static str,
    pub create_account_link: &'static str,
    pub wrong_password: &'static str,
    /// "{n}" is a number of seconds.
    pub wait_seconds: &'static str,
    /// "{n}" is a number of minutes.
    pub wait_minutes: &'static str,

    pub register_title: &'static str,
    pub name_optional: &'static str,
    pub password_help: &'static str,
    pub create_account: &'static str,
    pub have_account: &'static str,
    pub email_invalid: &'static str,
    pub email_mixed_scripts: &'static str,
    pub email_taken: &'static str,
    pub password_invalid: &'static str,
    pub name_invalid: &'static str,
    /// "{n}" is a number of minutes.
    pub too_many_sign_ups: &'static str,

    pub consent_title: &'static str,
    /// "{client}" is the app's name.
    pub wants_access: &'static str,
    pub choose_scopes: &'static str,
    pub scope_openid: &'static str,
    pub scope_offline: &'static str,
    pub scope_email: &'static str,
    pub scope_profile: &'static str,
    pub scope_shop: &'static str,
    pub scope_backoffice: &'static str,
    pub remember_choice: &'static str,
    pub allow: &'static str,
    pub deny: &'static str,

    pub sign_out_title: &'static str,
    pub sign_out_question: &'static str,
    pub sign_out: &'static str,
    pub stay_signed_in: &'static str,
    pub still_signed_in: &'static str,
    pub close_page: &'static str,

    pub forgot_title: &'static str,
    pub forgot_intro: &'static str,
    pub send_link: &'static str,
    pub not_an_email: &'static str,
    pub try_later: &'static str,
    /// "{n}" is a number of minutes.
    pub too_many_links: &'static str,
    pub check_email: &'static str,
    pub link_on_its_way: &'static str,

    pub reset_title: &'static str,
    pub new_password: &'static str,
    pub same_again: &'static str,
    pub set_password: &'static str,
    pub passwords_differ: &'static str,
    pub link_spent: &'static str,
    pub reset_link_spent: &'static str,
    pub password_changed: &'static str,
    pub password_changed_text: &'static str,

    pub email_confirmed: &'static str,
    /// "{email}" is the address.
    pub email_confirmed_text: &'static str,
    pub verify_link_spent: &'static str,

    pub expired: &'static str,
    pub start_again: &'static str,
    pub form_expired_title: &'static str,
    pub form_expired: &'static str,
    pub nothing_here: &'static str,
    pub start_from_shop: &'static str,
    pub unavailable: &'static str,
    pub unavailable_text: &'static str,
    pub busy: &'static str,
    pub busy_text: &'static str,
    pub went_wrong: &'static str,
    pub try_again_soon: &'static str,
    pub bad_redirect: &'static str,
    pub sign_in_failed: &'static str,
    pub cancelled_sign_in: &'static str,
    pub take_part: &'static str,
    pub app_asked_wrong: &'static str,
    pub service_problem: &'static str,
    pub failed_start_again: &'static str,
}

impl Text {
    /// `template` with `{name}` replaced by `value`.
    pub fn fill(template: &str, name: &str, value: &str) -> String {
        template.replace(&format!("{{{name}}}"), value)
    }
}

pub static EN: Text = Text {
    tag: "en",
    other_tag: "ja",
    other_name: "日本語",
    language: "Language",

    email: "Email",
    password: "Password",
    cancel: "Cancel",

    sign_in: "Sign in",
    sign_in_to: "Sign in to {client}",
    keep_signed_in: "Keep me signed in on this device",
    forgot_link: "Forgot your password?",
    new_here: "New here?",
    create_account_link: "Create an account",
    wrong_password: "Wrong email or password.",
    wait_seconds: "Too many failed sign-in attempts. Try again in {n} second(s).",
    wait_minutes: "Too many failed sign-in attempts. Try again in {n} minute(s).",

    register_title: "Create your account",
    name_optional: "Name (optional)",
    password_help: "8 to 128 characters. A few words you will remember make a strong one.",
    create_account: "Create account",
    have_account: "Already have an account?",
    email_invalid: "Enter an email address like name@example.com.",
    email_mixed_scripts: "An email address must not mix look-alike scripts (such as Latin and Cyrillic) in one part.",
    email_taken: "An account with this email already exists. Sign in, or reset your password if you forgot it.",
    password_invalid: "Choose a password of 8 to 128 characters, without control characters.",
    name_invalid: "A name is 1 to 100 characters, without control or invisible characters.",
    too_many_sign_ups: "Too many accounts were created from here lately. Try again in {n} minute(s).",

    consent_title: "Allow access",
    wants_access: "{client} wants access to your account",
    choose_scopes: "Choose what to share:",
    scope_openid: "Know who you are (your account id)",
    scope_offline: "Stay signed in when you are not using it",
    scope_email: "See your email address",
    scope_profile: "See your name",
    scope_shop: "Shop in your name: your account, your cart, and placing and cancelling your orders",
    scope_backoffice: "Use your admin rights, if you have them: the catalog, stock, every order and account",
    remember_choice: "Remember this choice",
    allow: "Allow",
    deny: "Deny",

    sign_out_title: "Sign out",
    sign_out_question: "Sign out?",
    sign_out: "Sign out",
    stay_signed_in: "Stay signed in",
    still_signed_in: "You are still signed in",
    close_page: "You can close this page.",

    forgot_title: "Forgot your password?",
    forgot_intro: "Give the address of your account. We will send it a link to choose a new password.",
    send_link: "Send the link",
    not_an_email: "That is not an email address.",
    try_later: "Try again later",
    too_many_links: "Too many links were asked for lately. Try again in {n} minute(s).",
    check_email: "Check your email",
    link_on_its_way: "If an account has this address, a link to choose a new password is on its way. It works once, for an hour.",

    reset_title: "Choose a new password",
    new_password: "New password",
    same_again: "The same again",
    set_password: "Set the new password",
    passwords_differ: "The two passwords differ.",
    link_spent: "This link no longer works",
    reset_link_spent: "It was used already or has expired. Ask for a new one from the sign-in page.",
    password_changed: "Your password is changed",
    password_changed_text: "Sign in with it from the shop. Every device that was signed in to your account has been signed out.",

    email_confirmed: "Your email address is confirmed",
    email_confirmed_text: "Thank you: {email} is confirmed as yours. You can close this page and go on shopping.",
    verify_link_spent: "It was used already, has expired, or was sent to an address the account no longer has. Your account page in the shop sends a new one.",

    expired: "This sign-in link has expired",
    start_again: "Go back to the shop and start again.",
    form_expired_title: "Please try again",
    form_expired: "The form expired or did not come from this site. Reload the page and submit it again.",
    nothing_here: "Nothing to do here",
    start_from_shop: "This page is part of signing in to the shop. Start from the shop.",
    unavailable: "Sign-in is unavailable",
    unavailable_text: "The sign-in service did not answer. Try again in a moment.",
    busy: "Sign-in is busy",
    busy_text: "Many people are signing in right now. Try again in a moment.",
    went_wrong: "Something went wrong",
    try_again_soon: "Try again in a moment.",
    bad_redirect: "The sign-in service answered with an invalid address.",
    sign_in_failed: "Signing in failed",
    cancelled_sign_in: "You cancelled signing in, or did not allow the app access. Go back to the shop to try again.",
    take_part: "Signing in needs you to take part. Go back to the shop and sign in again.",
    app_asked_wrong: "The app that sent you here asked for something it may not. Go back to the shop and start again.",
    service_problem: "The sign-in service had a problem. Try again in a moment.",
    failed_start_again: "Signing in failed. Go back to the shop and start again.",
};

pub static JA: Text = Text {
    tag: "ja",
    other_tag: "en",
    other_name: "English",
    language: "言語",

    email: "メールアドレス",
    password: "パスワード",
    cancel: "キャンセル",

    sign_in: "ログイン",
    sign_in_to: "{client}にログイン",
    keep_signed_in: "このデバイスでログインしたままにする",
    forgot_link: "パスワードをお忘れですか？",
    new_here: "はじめてご利用ですか？",
    create_account_link: "アカウントを作成",
    wrong_password: "メールアドレスまたはパスワードが違います。",
    wait_seconds: "ログインの失敗が続いています。{n}秒後にもう一度お試しください。",
    wait_minutes: "ログインの失敗が続いています。{n}分後にもう一度お試しください。",

    register_title: "アカウントを作成",
    name_optional: "お名前（任意）",
    password_help: "8〜128文字。覚えやすい言葉をいくつか並べると強いパスワードになります。",
    create_account: "アカウントを作成する",
    have_account: "アカウントをお持ちですか？",
    email_invalid: "name@example.com のような形式でメールアドレスを入力してください。",
    email_mixed_scripts: "メールアドレスの一部分に、見た目の似た別の文字体系（ラテン文字とキリル文字など）を混ぜることはできません。",
    email_taken: "このメールアドレスのアカウントはすでにあります。ログインするか、お忘れの場合はパスワードを再設定してください。",
    password_invalid: "制御文字を含まない8〜128文字のパスワードを設定してください。",
    name_invalid: "お名前は1〜100文字で、制御文字や見えない文字は使えません。",
    too_many_sign_ups: "ここから最近作成されたアカウントが多すぎます。{n}分後にもう一度お試しください。",

    consent_title: "アクセスの許可",
    wants_access: "{client}があなたのアカウントへのアクセスを求めています",
    choose_scopes: "共有する内容を選んでください：",
    scope_openid: "あなたが誰か（アカウントID）を知る",
    scope_offline: "使っていない間もログインしたままにする",
    scope_email: "メールアドレスを見る",
    scope_profile: "お名前を見る",
    scope_shop: "あなたの名前でお買い物をする：アカウント、カート、注文とそのキャンセル",
    scope_backoffice: "お持ちであれば管理者権限を使う：カタログ、在庫、すべての注文とアカウント",
    remember_choice: "この選択を記憶する",
    allow: "許可する",
    deny: "拒否する",

    sign_out_title: "ログアウト",
    sign_out_question: "ログアウトしますか？",
    sign_out: "ログアウト",
    stay_signed_in: "ログインしたままにする",
    still_signed_in: "ログインしたままです",
    close_page: "このページを閉じてかまいません。",

    forgot_title: "パスワードをお忘れですか？",
    forgot_intro: "アカウントのメールアドレスを入力してください。新しいパスワードを設定するためのリンクをお送りします。",
    send_link: "リンクを送信",
    not_an_email: "メールアドレスの形式ではありません。",
    try_later: "しばらくしてからお試しください",
    too_many_links: "最近リンクのご依頼が多すぎます。{n}分後にもう一度お試しください。",
    check_email: "メールをご確認ください",
    link_on_its_way: "このアドレスのアカウントがあれば、新しいパスワードを設定するリンクをお送りしました。リンクは1時間、1回だけ使えます。",

    reset_title: "新しいパスワードを設定",
    new_password: "新しいパスワード",
    same_again: "もう一度入力",
    set_password: "パスワードを設定する",
    passwords_differ: "2つのパスワードが一致しません。",
    link_spent: "このリンクは使えません",
    reset_link_spent: "使用済みか期限切れです。ログインページから新しいリンクをご依頼ください。",
    password_changed: "パスワードを変更しました",
    password_changed_text: "ショップから新しいパスワードでログインしてください。アカウントにログインしていたすべてのデバイスはログアウトされました。",

    email_confirmed: "メールアドレスを確認しました",
    email_confirmed_text: "ありがとうございます。{email} があなたのアドレスであることを確認しました。このページを閉じて、お買い物をお続けください。",
    verify_link_spent: "使用済みか期限切れ、またはアカウントの現在とは別のアドレスに送られたリンクです。ショップのアカウントページから新しいリンクを送れます。",

    expired: "このログインリンクは期限切れです",
    start_again: "ショップに戻って、もう一度お試しください。",
    form_expired_title: "もう一度お試しください",
    form_expired: "フォームの期限が切れたか、このサイトから送られたものではありません。ページを再読み込みして、もう一度送信してください。",
    nothing_here: "このページには何もありません",
    start_from_shop: "このページはショップへのログインの一部です。ショップから始めてください。",
    unavailable: "ログインを利用できません",
    unavailable_text: "ログインサービスが応答しませんでした。しばらくしてからお試しください。",
    busy: "ログインが混み合っています",
    busy_text: "ただいま多くの方がログインしています。しばらくしてからお試しください。",
    went_wrong: "問題が発生しました",
    try_again_soon: "しばらくしてからお試しください。",
    bad_redirect: "ログインサービスが無効なアドレスを返しました。",
    sign_in_failed: "ログインできませんでした",
    cancelled_sign_in: "ログインをキャンセルしたか、アプリへのアクセスを許可しませんでした。ショップに戻ってもう一度お試しください。",
    take_part: "ログインにはご本人の操作が必要です。ショップに戻って、もう一度ログインしてください。",
    app_asked_wrong: "このページに送ったアプリが、許可されていない要求をしました。ショップに戻って、もう一度お試しください。",
    service_problem: "ログインサービスで問題が発生しました。しばらくしてからお試しください。",
    failed_start_again: "ログインできませんでした。ショップに戻って、もう一度お試しください。",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_links_the_same_page_in_the_other_language() {
        let page: Uri = "/oauth2/login?login_challenge=a%2Bb&lang=en".parse().unwrap();
        assert_eq!(in_language(&page, Language::Ja), "/oauth2/login?login_challenge=a%2Bb&lang=ja");
        let page: Uri = "/oauth2/password/reset?token=abc&note=call+us".parse().unwrap();
        assert_eq!(in_language(&page, Language::En), "/oauth2/password/reset?token=abc&lang=en");
        let page: Uri = "/oauth2/password/forgot".parse().unwrap();
        assert_eq!(in_language(&page, Language::Ja), "/oauth2/password/forgot?lang=ja");
    }

    #[test]
    fn outside_a_request_the_pages_speak_english() {
        assert_eq!(text().tag, "en");
        prefer("ja");
        assert_eq!(language(), Language::En);
    }
}
