//! ListProducts: keyset pagination with page tokens that are opaque, tamper-evident and bound to the filters
//! they were issued for.
//!
//! Products are listed newest first (ids are UUID v7), or with a search query by relevance (`ts_rank` over the
//! weighted name and description, a GIN index finding the matches) and then id. A page token carries where
//! the last page ended (the last id, and its rank when searching), a digest of the filters, and the time it
//! was issued, signed with HMAC-SHA-256 under a key derived from the platform's internal secret. So a page
//! never repeats or skips products when others are added or deleted between pages, a token cannot be made
//! up or edited, one issued for other filters (or another audience: the public and admins see different
//! products) is refused, and one older than a day is refused as stale, all as `invalid_argument`.

use aws_lc_rs::{digest, hmac};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::{
    catalog::{self, ProductStatus, ProductView, Reader},
    error::Error,
};

/// Page size when none is asked for, and the most one page may have.
pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;
/// How long a page token is good for, in seconds.
const TOKEN_LIFETIME_SECS: i64 = 24 * 3600;
const TOKEN_VERSION: u8 = 1;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// This category's subtree (its id and every descendant's).
    pub category: Option<(Uuid, Vec<Uuid>)>,
    /// A web-search style query over name and description.
    pub search: Option<String>,
    /// Inclusive bounds on the product's lowest SKU price.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// Statuses to include (the public: PUBLISHED only).
    pub statuses: Vec<ProductStatus>,
}

impl Filters {
    /// What the filters are, as a digest a token is bound to.
    fn digest(&self) -> [u8; 16] {
        let mut context = digest::Context::new(&digest::SHA256);
        let mut field = |bytes: &[u8]| {
            context.update(&(bytes.len() as u64).to_be_bytes());
            context.update(bytes);
        };
        field(self.category.as_ref().map_or(&[][..], |(id, _)| id.as_bytes()));
        field(self.search.as_deref().unwrap_or("").as_bytes());
        field(&self.min_price.map_or([0; 9], tagged));
        field(&self.max_price.map_or([0; 9], tagged));
        let statuses: Vec<&str> = self.statuses.iter().map(|s| s.as_str()).collect();
        field(statuses.join(",").as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&context.finish().as_ref()[..16]);
        out
    }
}

fn tagged(value: i64) -> [u8; 9] {
    let mut out = [1u8; 9];
    out[1..].copy_from_slice(&value.to_be_bytes());
    out
}

/// Where a page ended.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Cursor {
    rank: Option<f32>,
    id: Uuid,
}

/// Signs and checks page tokens.
#[derive(Clone)]
pub struct PageTokens(hmac::Key);

impl PageTokens {
    /// The purpose the key is derived for from the platform's internal secret.
    pub const PURPOSE: &[u8] = b"ec product page token v1";

    pub fn new(key: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    fn encode(&self, filters: &Filters, cursor: Cursor, now: i64) -> String {
        let mut payload = Vec::with_capacity(48);
        payload.push(TOKEN_VERSION);
        payload.extend_from_slice(&now.to_be_bytes());
        payload.extend_from_slice(&filters.digest());
        payload.extend_from_slice(cursor.id.as_bytes());
        if let Some(rank) = cursor.rank {
            payload.extend_from_slice(&rank.to_bits().to_be_bytes());
        }
        let tag = hmac::sign(&self.0, &payload);
        payload.extend_from_slice(&tag.as_ref()[..16]);
        URL_SAFE_NO_PAD.encode(payload)
    }

    fn decode(&self, token: &str, filters: &Filters, now: i64) -> Result<Cursor, Error> {
        let invalid = |why: &str| Error::InvalidArgument(format!("page_token {why}; start again from the first page"));
        if token.len() > 128 {
            return Err(invalid("was not issued by this server"));
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid("was not issued by this server"))?;
        let searching = filters.search.is_some();
        let expected_len = 1 + 8 + 16 + 16 + if searching { 4 } else { 0 } + 16;
        if bytes.len() != expected_len || bytes[0] != TOKEN_VERSION {
            return Err(invalid("was not issued by this server for these filters"));
        }
        let (payload, tag) = bytes.split_at(bytes.len() - 16);
        let expected = hmac::sign(&self.0, payload);
        if aws_lc_rs::constant_time::verify_slices_are_equal(&expected.as_ref()[..16], tag).is_err() {
            return Err(invalid("was not issued by this server"));
        }
        if payload[9..25] != filters.digest() {
            return Err(invalid("was issued for other filters"));
        }
        let issued = i64::from_be_bytes(payload[1..9].try_into().expect("8 bytes"));
        if now - issued > TOKEN_LIFETIME_SECS || issued > now + 300 {
            return Err(invalid("has expired"));
        }
        let id = Uuid::from_slice(&payload[25..41]).expect("16 bytes");
        let rank = searching.then(|| f32::from_bits(u32::from_be_bytes(payload[41..45].try_into().expect("4 bytes"))));
        Ok(Cursor { rank, id })
    }
}

/// One page of products matching `filters`, from `page_token` on, and the next page's token (empty on the last
/// page).
pub async fn list(
    pool: &PgPool,
    tokens: &PageTokens,
    filters: &Filters,
    page_size: i64,
    page_token: &str,
) -> Result<(Vec<ProductView>, String), Error> {
    let now = chrono::Utc::now().timestamp();
    let after = if page_token.is_empty() { None } else { Some(tokens.decode(page_token, filters, now)?) };

    let mut query: QueryBuilder<Postgres> = QueryBuilder::new("SELECT p.id, ");
    match &filters.search {
        Some(search) => {
            query.push("ts_rank(p.search, websearch_to_tsquery('english', ");
            query.push_bind(search.clone());
            query.push("))");
        }
        None => {
            query.push("NULL::real");
        }
    }
    query.push(" AS rank FROM product_service.products p WHERE p.deleted_at IS NULL AND p.status = ANY(");
    query.push_bind(filters.statuses.iter().map(|s| s.as_str().to_owned()).collect::<Vec<String>>());
    query.push(")");
    if let Some((_, subtree)) = &filters.category {
        query.push(" AND p.category_id = ANY(").push_bind(subtree.clone()).push(")");
    }
    if let Some(min) = filters.min_price {
        query.push(" AND p.min_price >= ").push_bind(min);
    }
    if let Some(max) = filters.max_price {
        query.push(" AND p.min_price <= ").push_bind(max);
    }
    if let Some(search) = &filters.search {
        query.push(" AND p.search @@ websearch_to_tsquery('english', ").push_bind(search.clone()).push(")");
    }
    let order = match (&filters.search, after) {
        (Some(search), after) => {
            if let Some(Cursor { rank: Some(rank), id }) = after {
                query.push(" AND (ts_rank(p.search, websearch_to_tsquery('english', ");
                query.push_bind(search.clone());
                query.push(")), p.id) < (").push_bind(rank).push("::real, ").push_bind(id).push(")");
            }
            " ORDER BY rank DESC, p.id DESC"
        }
        (None, after) => {
            if let Some(Cursor { id, .. }) = after {
                query.push(" AND p.id < ").push_bind(id);
            }
            " ORDER BY p.id DESC"
        }
    };
    query.push(order).push(" LIMIT ").push_bind(page_size + 1);

    let mut hits: Vec<(Uuid, Option<f32>)> = query.build_query_as().fetch_all(pool).await?;
    let more = hits.len() as i64 > page_size;
    hits.truncate(page_size as usize);
    let next = match (more, hits.last()) {
        (true, Some((id, rank))) => tokens.encode(filters, Cursor { rank: *rank, id: *id }, now),
        _ => String::new(),
    };
    let ids: Vec<Uuid> = hits.iter().map(|(id, _)| *id).collect();
    let products = catalog::products_by_id(pool, &ids, &filters.statuses).await?;
    Ok((catalog::with_details(pool, products).await?, next))
}

/// The statuses `reader` lists: the public PUBLISHED only; an admin what they ask for, or every status.
pub fn statuses_for(reader: Reader, asked: Option<ProductStatus>) -> Vec<ProductStatus> {
    match (reader, asked) {
        (Reader::Public, _) => vec![ProductStatus::Published],
        (Reader::Admin, Some(status)) => vec![status],
        (Reader::Admin, None) => vec![ProductStatus::Draft, ProductStatus::Published, ProductStatus::Hidden],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(search: Option<&str>) -> Filters {
        Filters { search: search.map(str::to_owned), statuses: vec![ProductStatus::Published], ..Filters::default() }
    }

    #[test]
    fn a_token_round_trips_for_its_filters_only() {
        let tokens = PageTokens::new(b"key");
        let cursor = Cursor { rank: Some(0.25), id: Uuid::now_v7() };
        let searching = filters(Some("tea"));
        let token = tokens.encode(&searching, cursor, 1_000);
        assert_eq!(tokens.decode(&token, &searching, 1_010).unwrap(), cursor);
        assert!(tokens.decode(&token, &filters(Some("coffee")), 1_010).is_err(), "other filters");
        assert!(tokens.decode(&token, &filters(None), 1_010).is_err(), "no search");
        let mut admin = searching.clone();
        admin.statuses = statuses_for(Reader::Admin, None);
        assert!(tokens.decode(&token, &admin, 1_010).is_err(), "another audience");
        assert!(PageTokens::new(b"other").decode(&token, &searching, 1_010).is_err(), "another key");
        assert!(tokens.decode(&token, &searching, 1_000 + TOKEN_LIFETIME_SECS + 1).is_err(), "stale");
    }

    #[test]
    fn edited_or_made_up_tokens_are_refused() {
        let tokens = PageTokens::new(b"key");
        let plain = filters(None);
        let token = tokens.encode(&plain, Cursor { rank: None, id: Uuid::now_v7() }, 1_000);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[30] ^= 1; // another id
        let edited = URL_SAFE_NO_PAD.encode(&bytes);
        for bad in [edited.as_str(), "", "x", "not base64 !", &"A".repeat(200), &token[..token.len() - 2]] {
            if bad.is_empty() {
                continue;
            }
            assert!(matches!(tokens.decode(bad, &plain, 1_000), Err(Error::InvalidArgument(_))), "{bad}");
        }
    }
}
